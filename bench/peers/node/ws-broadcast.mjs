// WebSocket broadcast server on Node `ws`, a peer in pushwire's fan-out
// benchmark. Usage: node ws-broadcast.mjs PORT
// Every message any client sends goes to every open connection, the
// sender included (the loop from the `ws` README), without compression.
import { WebSocketServer, WebSocket } from 'ws';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node ws-broadcast.mjs PORT');
  process.exit(2);
}
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, backlog: 4096 });
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});
