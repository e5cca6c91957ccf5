// Drill 5: no sticky sessions. A centrifuge-js client streams from node A
// (`http_stream`, then `sse`) while every command it sends afterwards —
// subscribe, publish, presence, pong — is POSTed to node B's `/emulation`,
// as a load balancer without affinity would do. B forwards each to A, the
// node holding the session, through Redis; the round trips still work.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Centrifuge, channel, connected, EventSource, figure, Redis, startNodes, subscribed, until, userToken,
} from './harness.mjs';

describe('an emulation session on A whose /emulation POSTs go to B', () => {
  let redis;
  let a;
  let b;
  const clients = [];

  before(async () => {
    redis = await Redis.start();
    [a, b] = await startNodes(2, { address: redis.address });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  for (const transport of ['http_stream', 'sse']) {
    test(`${transport}: subscribe, publish and presence round trips through the other node`, async (t) => {
      const requests = [];
      const recording = (url, init = {}) => {
        requests.push(new URL(String(url)).port + new URL(String(url)).pathname);
        return fetch(url, init);
      };
      const path = transport === 'sse' ? '/connection/sse' : '/connection/http_stream';
      const c = new Centrifuge([{ transport, endpoint: a.origin + path }], {
        token: userToken(`${transport}-user`),
        emulationEndpoint: b.origin + '/emulation',
        fetch: recording,
        eventsource: class extends EventSource {
          constructor(url, init = {}) {
            super(url, { ...init, fetch: (u, i) => recording(u, i) });
          }
        },
        minReconnectDelay: 100,
        maxReconnectDelay: 1000,
      });
      clients.push(c);
      const ctx = await connected(c);
      assert.equal(ctx.transport, transport);

      const ch = channel('drill', transport);
      const sub = c.newSubscription(ch);
      const got = [];
      sub.on('publication', (p) => got.push(p.data));
      const started = Date.now();
      await subscribed(sub);
      const subscribedIn = Date.now() - started;

      // A publication through either node's API arrives on the stream from A.
      await b.publish(ch, { via: 'api-b' });
      await a.publish(ch, { via: 'api-a' });
      // The client's own publish goes through B's /emulation to A, then to Redis.
      const t0 = Date.now();
      await sub.publish({ via: 'client' });
      await until(() => got.some((d) => d.via === 'client'), { what: 'its own publication back' });
      const roundTrip = Date.now() - t0;
      assert.deepEqual(got.map((d) => d.via), ['api-b', 'api-a', 'client']);

      const presence = await sub.presence();
      assert.deepEqual(Object.values(presence.clients).map((p) => p.user), [`${transport}-user`]);
      assert.equal((await sub.presenceStats()).numClients, 1);

      // The stream went to A; every command after the connect went to B.
      const stream = requests.filter((r) => r.endsWith(path));
      const posts = requests.filter((r) => r.endsWith('/emulation'));
      assert.ok(stream.length >= 1 && stream.every((r) => r.startsWith(`${a.port}/`)), JSON.stringify(requests));
      assert.ok(posts.length >= 3 && posts.every((r) => r.startsWith(`${b.port}/`)), JSON.stringify(requests));
      assert.equal(c.state, 'connected');

      // An unsubscribe through B really ends the subscription on A:
      // the next publication is not delivered.
      sub.unsubscribe();
      await until(async () => (await a.call('presence', { channel: ch })).presence &&
        Object.keys((await a.call('presence', { channel: ch })).presence).length === 0, { what: 'presence empty' });
      await b.publish(ch, { via: 'after-unsubscribe' });
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!got.some((d) => d.via === 'after-unsubscribe'));
      figure(t, `drill 5 (${transport}): stream on A, ${posts.length} POSTs to B's /emulation forwarded to A; ` +
        `subscribe took ${subscribedIn} ms, client publish round trip ${roundTrip} ms; API publications from A and B delivered; presence answered`);
    });
  }
});
