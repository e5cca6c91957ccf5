// Socket.IO (npm `socket.io`, rooms) as a fan-out peer of pushwire's hub
// benchmark. Usage: node socketio-broadcast.mjs PORT
// Every client that connects (WebSocket transport of engine.io v4, path
// /socket.io/) joins the room `bench`; a backend publishes with
// `POST /publish` (the body, text, is the message), answered 202, and the
// server emits it to the room as event `m`:
// `io.to('bench').emit('m', body)`, i.e. `42["m","<body>"]` per client.
// Server pings keep their defaults (every 25 s, the client answers).
// perMessageDeflate is off (Socket.IO's default).
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node socketio-broadcast.mjs PORT');
  process.exit(2);
}
const ROOM = 'bench';

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      io.to(ROOM).emit('m', Buffer.concat(chunks).toString('utf8'));
      res.writeHead(202, { 'Content-Length': '0' });
      res.end();
    });
    return;
  }
  res.writeHead(404, { 'Content-Length': '0' });
  res.end();
});
server.keepAliveTimeout = 120000;

const io = new Server(server, {
  serveClient: false,
  transports: ['websocket'],
  perMessageDeflate: false,
});
io.on('connection', (socket) => {
  socket.join(ROOM);
});

server.listen(port, '127.0.0.1');
