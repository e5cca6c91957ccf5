// A minimal publish API on Bun's HTTP server (uWebSockets), the peer of
// the hub's publish-API benchmark: what the fastest HTTP server here
// costs per request for the same exchange, with a toy channel history.
// Usage: bun bun-api.js PORT
//
// POST /api/publish {"channel","data"} and POST /api/batch
// {"commands":[{"publish":{…}}…]} with `X-API-Key: pushwire-bench-api-key`:
// each publication is appended to its channel's history (the last 100
// kept) with the next offset, and answered as the hub answers
// (`{"result":{"offset":N,"epoch":"…"}}`, or `{"replies":[…]}`). No
// subscribers, no TTL, no idempotency: the floor of the job, not a rival
// implementation of it.
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: bun bun-api.js PORT');
  process.exit(2);
}
const KEY = 'pushwire-bench-api-key';
const HISTORY = 100;
const EPOCH = 'bench';
const channels = new Map();

function publish(command) {
  if (typeof command?.channel !== 'string' || command.data === undefined) {
    return { error: { code: 107, message: 'bad request' } };
  }
  let stream = channels.get(command.channel);
  if (!stream) {
    stream = { offset: 0, items: [] };
    channels.set(command.channel, stream);
  }
  stream.offset += 1;
  stream.items.push({ offset: stream.offset, data: command.data });
  if (stream.items.length > HISTORY) stream.items.shift();
  return { result: { offset: stream.offset, epoch: EPOCH } };
}

Bun.serve({
  hostname: '127.0.0.1',
  port,
  async fetch(request) {
    if (request.method !== 'POST') return new Response('POST only\n', { status: 405 });
    if (request.headers.get('x-api-key') !== KEY) return new Response('', { status: 401 });
    const path = new URL(request.url).pathname;
    let body;
    try {
      body = await request.json();
    } catch {
      return new Response('bad JSON\n', { status: 400 });
    }
    if (path === '/api/publish') return Response.json(publish(body));
    if (path === '/api/batch' && Array.isArray(body.commands)) {
      return Response.json({ replies: body.commands.map((c) => publish(c.publish)) });
    }
    return new Response('not found\n', { status: 404 });
  },
});
