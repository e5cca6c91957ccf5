// Drill 4: a three-master Redis Cluster (three `redis-server
// --cluster-enabled yes`, joined by `redis-cli --cluster create
// --cluster-replicas 0`) under three `pushwire serve` nodes: the cross-node
// delivery of drill 1 — 1,000 publications through node B's API, spread
// over channels that live on different masters, each received on nodes A
// and C in order, once — over sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis
// 7); presence from any node.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertExactlyOnceInOrder, connected, figure, redisCluster, startNodes, subscribed, until, userToken,
} from './harness.mjs';

const COUNT = 1000;
const CHANNELS = 8;

describe('three nodes on a three-master Redis Cluster', () => {
  let cluster;
  let a;
  let b;
  let c;
  const clients = [];

  before(async () => {
    cluster = await redisCluster(3);
    [a, b, c] = await startNodes(3, { cluster_address: cluster.addresses });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    await cluster?.stop();
  });

  test(`${COUNT} publications through B over ${CHANNELS} channels reach the subscribers on A and C in order, once, through sharded pub/sub`, async (t) => {
    const stem = `cl${Date.now().toString(36)}`;
    const channels = Array.from({ length: CHANNELS }, (_, i) => `drill:${stem}_${i}`);
    const onA = a.client({ token: userToken('alice') });
    const onB = b.client({ token: userToken('bob') });
    const onC = c.client({ token: userToken('carl') });
    clients.push(onA, onB, onC);
    await Promise.all([connected(onA), connected(onB), connected(onC)]);
    const got = new Map(channels.map((ch) => [ch, []]));
    const gotC = new Map(channels.map((ch) => [ch, []]));
    const subsA = channels.map((ch) => {
      const s = onA.newSubscription(ch);
      s.on('publication', (ctx) => got.get(ch).push(ctx.data.n));
      return s;
    });
    const subsC = channels.map((ch) => {
      const s = onC.newSubscription(ch);
      s.on('publication', (ctx) => gotC.get(ch).push(ctx.data.n));
      return s;
    });
    await Promise.all([...subsA, ...subsC].map((s) => subscribed(s)));
    const subB = onB.newSubscription(channels[0]);
    await subscribed(subB);

    // Where the channels live, and that node A listens with SSUBSCRIBE on
    // each master that holds some (PUBSUB SHARDCHANNELS lists them).
    const masters = new Map();
    for (const node of cluster.nodes) {
      const shard = (await node.cli('PUBSUB', 'SHARDCHANNELS')).split('\n').filter(Boolean);
      const plain = (await node.cli('PUBSUB', 'CHANNELS', '*pub.*')).split('\n').filter(Boolean);
      assert.deepEqual(plain, [], 'no plain pub/sub for channels in cluster mode');
      masters.set(node.port, shard.filter((s) => s.includes(stem)).length);
    }
    const used = [...masters.values()].filter((n) => n > 0).length;
    assert.ok(used >= 2, `the channels' pub/sub spread over the masters: ${JSON.stringify([...masters])}`);

    const want = new Map(channels.map((ch) => [ch, []]));
    const started = Date.now();
    for (let i = 0; i < COUNT; i++) {
      const ch = channels[i % CHANNELS];
      const r = await b.publish(ch, { n: i });
      assert.equal(r.offset, want.get(ch).length + 1);
      want.get(ch).push(i);
    }
    const publishedIn = Date.now() - started;
    await until(() => channels.every((ch) => got.get(ch).length >= want.get(ch).length &&
      gotC.get(ch).length >= want.get(ch).length), {
      timeoutMs: 15000,
      what: `${COUNT} publications on A and C`,
    });
    await new Promise((r) => setTimeout(r, 200));
    for (const ch of channels) {
      assertExactlyOnceInOrder(got.get(ch), want.get(ch), `${ch} on A`);
      assertExactlyOnceInOrder(gotC.get(ch), want.get(ch), `${ch} on C`);
    }

    for (const node of [a, b, c]) {
      const { presence } = await node.call('presence', { channel: channels[0] });
      assert.deepEqual(Object.values(presence).map((p) => p.user).sort(), ['alice', 'bob', 'carl']);
      assert.deepEqual(await node.call('presence_stats', { channel: channels[0] }), { num_clients: 3, num_users: 3 });
    }
    figure(t, `drill 4: 3 pushwire nodes on a cluster of 3 masters; ${CHANNELS} channels, shard pub/sub subscriptions per master ` +
      `${JSON.stringify(Object.fromEntries(masters))}; ${COUNT} publications through B in ${publishedIn} ms, ` +
      `all received on A and on C in order, once each; presence from A, B and C lists the 3 clients`);
  });
});
