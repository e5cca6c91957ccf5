// Server-sent events fan-out on Bun, a peer of `pushwire serve` in
// pushwire's SSE benchmark. Usage: bun bun-sse.js PORT
// `GET /events` answers a `text/event-stream` whose body is a
// ReadableStream kept in a set; `POST /publish` takes the text body,
// gives it the next cursor and enqueues `id: <cursor>\ndata: <body>\n\n`
// (encoded once) to every open stream, then answers `202 {"cursor":N}`:
// the same routes and framing as `pushwire serve`'s `/events` and
// `/publish`. Unlike pushwire it keeps no log, so a reconnecting client
// (`Last-Event-ID`) is not caught up; the benchmark never reconnects.
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: bun bun-sse.js PORT');
  process.exit(2);
}

const encoder = new TextEncoder();
const streams = new Set();
const opening = encoder.encode(':\n\n');
let cursor = 0;

function events() {
  let controller;
  const body = new ReadableStream({
    start(c) {
      controller = c;
      streams.add(controller);
      // Bun sends a streaming response's head with its first bytes; a
      // comment line (what pushwire's heartbeat sends) opens the stream
      // at once, as pushwire's head does.
      controller.enqueue(opening);
    },
    cancel() {
      streams.delete(controller);
    },
  });
  return new Response(body, {
    headers: {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
    },
  });
}

async function publish(request) {
  const text = await request.text();
  cursor += 1;
  const event = encoder.encode(`id: ${cursor}\ndata: ${text}\n\n`);
  for (const controller of streams) {
    try {
      controller.enqueue(event);
    } catch {
      streams.delete(controller);
    }
  }
  return new Response(`{"cursor":${cursor}}`, {
    status: 202,
    headers: { 'Content-Type': 'application/json' },
  });
}

Bun.serve({
  hostname: '127.0.0.1',
  port,
  // Streams may sit idle while thousands of others connect.
  idleTimeout: 0,
  fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/events' && request.method === 'GET') return events();
    if (pathname === '/publish' && request.method === 'POST') return publish(request);
    return new Response('not found\n', { status: 404 });
  },
});
