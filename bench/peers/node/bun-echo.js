// WebSocket echo server on Bun (uWebSockets underneath), a peer in
// pushwire's benchmarks. Usage: bun bun-echo.js PORT [--deflate]
// --deflate turns on Bun's permessage-deflate with its own defaults
// (`perMessageDeflate: true`) and compresses every reply: Bun's
// `ws.send` sends uncompressed unless asked, which would leave Bun only
// inflating where the other peers also compress.
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: bun bun-echo.js PORT [--deflate]');
  process.exit(2);
}
const deflate = process.argv.includes('--deflate');

Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch(request, server) {
    if (server.upgrade(request)) return undefined;
    return new Response('WebSocket only', { status: 426, headers: { Upgrade: 'websocket' } });
  },
  websocket: {
    perMessageDeflate: deflate,
    message(ws, message) {
      ws.send(message, deflate);
    },
  },
});
