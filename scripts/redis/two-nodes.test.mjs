// Drill 1: two `pushwire serve` nodes on one real redis-server. A
// centrifuge-js subscriber on node A receives 1,000 publications made
// through node B's server API, in order, once each; presence and
// presence_stats, asked of either node (server API and client), list the
// clients of both.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertExactlyOnceInOrder, channel, connected, figure, Redis, startNodes, subscribed, until, userToken,
} from './harness.mjs';

const COUNT = 1000;

describe('two nodes on one Redis', () => {
  let redis;
  let a;
  let b;
  const clients = [];
  const client = (node, user) => {
    const c = node.client({ token: userToken(user) });
    clients.push(c);
    return c;
  };

  before(async () => {
    redis = await Redis.start();
    [a, b] = await startNodes(2, { address: redis.address });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test(`a subscriber on A receives ${COUNT} publications made through B's API, in order, once each`, async (t) => {
    const ch = channel('drill', 'cross');
    const onA = client(a, 'alice');
    const onB = client(b, 'bob');
    await Promise.all([connected(onA), connected(onB)]);
    const subA = onA.newSubscription(ch);
    const subB = onB.newSubscription(ch);
    const gotA = [];
    const gotB = [];
    subA.on('publication', (ctx) => gotA.push(ctx));
    subB.on('publication', (ctx) => gotB.push(ctx));
    await Promise.all([subscribed(subA), subscribed(subB)]);

    const started = Date.now();
    const want = [];
    const offsets = [];
    for (let i = 0; i < COUNT; i++) {
      const data = { n: i };
      const res = await b.publish(ch, data);
      want.push(i);
      offsets.push(res.offset);
    }
    const published = Date.now() - started;
    await until(() => gotA.length >= COUNT && gotB.length >= COUNT, {
      timeoutMs: 15000,
      what: `${COUNT} publications on both nodes (A has ${gotA.length}, B has ${gotB.length})`,
    });
    const delivered = Date.now() - started;
    // Nothing more trickles in afterwards (a duplicate would).
    await new Promise((r) => setTimeout(r, 200));
    assertExactlyOnceInOrder(gotA.map((p) => p.data.n), want, 'subscriber on A');
    assertExactlyOnceInOrder(gotB.map((p) => p.data.n), want, 'subscriber on B');
    // The offsets the API gave are 1..COUNT, and the client saw the same ones.
    assert.deepEqual(offsets, want.map((i) => i + 1));
    assert.deepEqual(gotA.map((p) => p.offset), offsets);
    figure(t, `drill 1: ${COUNT} publications through B's API in ${published} ms, all delivered on A and B after ${delivered} ms; offsets 1..${COUNT}, none lost, none twice`);
  });

  test('presence and presence_stats on either node list the clients of both', async (t) => {
    const ch = channel('drill', 'presence');
    const users = ['carol', 'dave', 'erin'];
    const cs = [client(a, users[0]), client(b, users[1]), client(b, users[2])];
    await Promise.all(cs.map((c) => connected(c)));
    const subs = cs.map((c) => c.newSubscription(ch));
    await Promise.all(subs.map((s) => subscribed(s)));
    const ids = cs.map((c) => c._client).filter(Boolean);

    for (const node of [a, b]) {
      const { presence } = await until(async () => {
        const r = await node.call('presence', { channel: ch });
        return Object.keys(r.presence).length === 3 ? r : null;
      }, { what: `3 clients in presence on node ${node.port}` });
      assert.deepEqual(Object.values(presence).map((p) => p.user).sort(), users);
      if (ids.length === 3) assert.deepEqual(Object.keys(presence).sort(), [...ids].sort());
      const stats = await node.call('presence_stats', { channel: ch });
      assert.deepEqual(stats, { num_clients: 3, num_users: 3 });
    }
    // A client on A asks its node; a client on B asks its node.
    for (const sub of [subs[0], subs[1]]) {
      const p = await sub.presence();
      assert.deepEqual(Object.values(p.clients).map((c) => c.user).sort(), users);
      const s = await sub.presenceStats();
      assert.equal(s.numClients, 3);
      assert.equal(s.numUsers, 3);
    }
    // A client that leaves B is gone from A's answer too.
    subs[2].unsubscribe();
    await until(async () => Object.keys((await a.call('presence', { channel: ch })).presence).length === 2, {
      what: 'the unsubscribed client gone from presence on A',
    });
    figure(t, 'drill 1: presence on A and on B (API and client) lists 3 clients, 1 on A and 2 on B; an unsubscribe on B shows on A');
  });
});
