// WebSocket echo server on Node's `ws`, a peer in pushwire's benchmarks.
// Usage: node ws-echo.mjs PORT [--deflate]
// --deflate turns on ws's permessage-deflate with its own defaults
// (`perMessageDeflate: true`), as an application would.
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node ws-echo.mjs PORT [--deflate]');
  process.exit(2);
}
const deflate = process.argv.includes('--deflate');

const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: deflate });
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
server.on('error', (e) => {
  console.error(`ws-echo: ${e.message}`);
  process.exit(1);
});
