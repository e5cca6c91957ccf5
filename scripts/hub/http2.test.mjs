// centrifuge-js over WebSocket on HTTP/2 (RFC 8441 extended CONNECT, h2c):
// the SDK is unmodified; its `websocket` option gets a constructor whose
// sockets are extended CONNECT streams framed by the `ws` package.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { channel, connected, http2WebSocket, next, record, Server, sleep, subscribed, until, userToken } from './harness.mjs';

describe('centrifuge-js over WebSocket on HTTP/2', () => {
  let server;
  before(async () => {
    server = await Server.start();
  });
  after(async () => {
    await server?.stop();
  });

  test('connects, receives an API publication, and recovers 50 missed ones', async () => {
    const H2 = http2WebSocket();
    const c = server.client({ token: userToken('h2user'), websocket: H2 });
    try {
      const ctx = await connected(c);
      assert.equal(ctx.transport, 'websocket');
      assert.equal(H2.stats.opened, 1, `an extended CONNECT stream: ${JSON.stringify(H2.stats)}`);
      const ch = channel('chat', 'h2');
      const sub = c.newSubscription(ch);
      const pubs = record(sub, 'publication');
      await subscribed(sub);
      await server.publish(ch, { n: 1 });
      await until(() => pubs.length === 1, { what: 'the first publication' });
      assert.deepEqual(pubs[0].data, { n: 1 });

      const gone = next(c, 'disconnected');
      c.disconnect();
      await gone;
      for (let n = 2; n <= 51; n++) await server.publish(ch, { n });
      const again = next(sub, 'subscribed');
      c.connect();
      const s = await again;
      assert.equal(H2.stats.opened, 2);
      assert.equal(s.wasRecovering, true, JSON.stringify(s));
      assert.equal(s.recovered, true, JSON.stringify(s));
      await until(() => pubs.length >= 51, { what: `51 publications (have ${pubs.length})` });
      await sleep(300);
      assert.deepEqual(
        pubs.map((p) => p.data.n),
        Array.from({ length: 51 }, (_, i) => i + 1),
      );
    } finally {
      c.disconnect();
    }
  });

  test('presence over HTTP/2 lists the client', async () => {
    const H2 = http2WebSocket();
    const c = server.client({ token: userToken('h2p'), websocket: H2 });
    try {
      const { client } = await connected(c);
      const ch = channel('chat', 'h2p');
      await subscribed(c.newSubscription(ch));
      const p = await c.presence(ch);
      assert.deepEqual(Object.keys(p.clients), [client]);
      assert.equal(p.clients[client].user, 'h2p');
      assert.equal(H2.stats.opened, 1);
    } finally {
      c.disconnect();
    }
  });
});
