// WebSocket broadcast server on Bun (uWebSockets' pub/sub), a peer in
// pushwire's fan-out benchmark. Usage: bun bun-broadcast.js PORT
// Every client subscribes to one topic when it opens; every message any
// client sends is published to the topic with `server.publish`. uWebSockets
// skips the sender in a publish, so the message is also sent back to the
// sender: every connection, the sender included, gets every message, the
// same semantics as `pushwire echo --broadcast` and ws-broadcast.mjs.
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: bun bun-broadcast.js PORT');
  process.exit(2);
}
const TOPIC = 'all';

const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch(request, server) {
    if (server.upgrade(request)) return undefined;
    return new Response('WebSocket only', { status: 426, headers: { Upgrade: 'websocket' } });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      ws.subscribe(TOPIC);
    },
    message(ws, message) {
      server.publish(TOPIC, message);
      ws.send(message);
    },
  },
});
