// The server API's `info` and `channels` on two `pushwire serve` nodes
// sharing one real redis-server: `info` through either node lists both
// nodes, `channels` through either node sums the subscribers of both (with
// the pattern filter). Node B killed with SIGKILL: `channels` through A
// still answers within its bound, with A's channels, and `info` drops B
// once B's reports have been missing for the liveness window. A node that
// stops cleanly (SIGTERM) is dropped at once.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  connected, figure, killNode, Redis, redisConfig, Server, startNodes, subscribed, until, userToken,
} from './harness.mjs';

/** A node's reports' liveness window (the hub's NODE_INFO_LIFETIME). */
const LIFETIME_MS = 9000;
/** How long a `channels` survey waits for the nodes (the hub's SURVEY_TIMEOUT). */
const SURVEY_MS = 2000;

/** The uids `info` lists through `node`. */
async function infoUids(node) {
  const { nodes } = await node.call('info');
  return nodes.map((n) => n.uid);
}

/** `channels` through `node` with `pattern`: `{name: num_clients}`, and how long it took. */
async function channelCounts(node, pattern) {
  const started = Date.now();
  const { channels } = await node.call('channels', { pattern });
  const counts = Object.fromEntries(Object.entries(channels).map(([name, c]) => [name, c.num_clients]));
  return { counts, ms: Date.now() - started };
}

describe('info and channels over the nodes of one Redis', () => {
  let redis;
  let a;
  let b;
  const clients = [];
  // Channels of this run only: the pattern `drill:nodes_<run>_*` names them all.
  const run = Math.random().toString(36).slice(2, 8);
  const ch = (stem) => `drill:nodes_${run}_${stem}`;
  const all = `drill:nodes_${run}_*`;

  /** A client of `node` as `user`, subscribed to `channels`. */
  async function subscriber(node, user, channels) {
    const c = node.client({ token: userToken(user) });
    clients.push(c);
    await connected(c);
    await Promise.all(channels.map((name) => subscribed(c.newSubscription(name))));
    return c;
  }

  before(async () => {
    redis = await Redis.start();
    [a, b] = await startNodes(2, { address: redis.address });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test('info through either node lists both nodes', async (t) => {
    const started = Date.now();
    for (const node of [a, b]) {
      await until(async () => (await infoUids(node)).length === 2, {
        timeoutMs: 10000,
        what: `info through node ${node.port} listing 2 nodes`,
      });
    }
    const seen = Date.now() - started;
    const { nodes } = await a.call('info');
    const fromB = await infoUids(b);
    assert.equal(new Set(nodes.map((n) => n.uid)).size, 2, JSON.stringify(nodes));
    assert.deepEqual([...fromB].sort(), nodes.map((n) => n.uid).sort());
    // Each node lists itself first.
    assert.notEqual(nodes[0].uid, fromB[0]);
    for (const n of nodes) {
      for (const key of ['num_clients', 'num_users', 'num_subs', 'num_channels', 'uptime']) {
        assert.equal(typeof n[key], 'number', `${key} of ${JSON.stringify(n)}`);
      }
      assert.match(n.version, /^\d+\.\d+\.\d+/);
    }
    // Named <host name>_<port> by default: A first through A.
    assert.ok(nodes[0].name.endsWith(`_${a.port}`), JSON.stringify(nodes));
    assert.equal(new Set(nodes.map((n) => n.name)).size, 2, JSON.stringify(nodes));
    figure(t, `nodes: info through A and through B lists both nodes ${seen} ms after they started`);
  });

  test('channels through either node sums the subscribers of both nodes', async (t) => {
    await subscriber(a, 'alice', [ch('shared'), ch('only_a')]);
    await subscriber(b, 'bob', [ch('shared'), ch('only_b')]);
    await subscriber(b, 'carol', [ch('shared')]);
    const want = { [ch('only_a')]: 1, [ch('only_b')]: 1, [ch('shared')]: 3 };
    for (const node of [a, b]) {
      const { counts, ms } = await channelCounts(node, all);
      assert.deepEqual(counts, want, `channels through node ${node.port}`);
      // Both nodes answered: no wait for the survey's timeout.
      assert.ok(ms < SURVEY_MS, `answered in ${ms} ms`);
    }
    const { counts } = await channelCounts(a, ch('only_*'));
    assert.deepEqual(counts, { [ch('only_a')]: 1, [ch('only_b')]: 1 });
    // info's counts follow within a report interval.
    await until(async () => {
      const { nodes } = await a.call('info');
      return nodes.map((n) => n.num_clients).sort().join() === '1,2';
    }, { timeoutMs: 10000, what: 'info counting 1 client on A and 2 on B' });
    const { ms } = await channelCounts(a, all);
    figure(t, `nodes: channels through A and through B sums both nodes' subscribers (3 on the shared channel), answered in ${ms} ms`);
  });

  test('node B killed: channels through A answers within its bound with A\'s channels; info drops B after the window', async (t) => {
    const uidB = (await infoUids(b))[0];
    await killNode(b);
    const killed = Date.now();
    // B is still taken for live: the survey waits for it, then answers without it.
    const first = await channelCounts(a, all);
    assert.deepEqual(first.counts, { [ch('only_a')]: 1, [ch('shared')]: 1 });
    assert.ok(first.ms < SURVEY_MS + 1500, `channels answered in ${first.ms} ms`);
    await until(async () => !(await infoUids(a)).includes(uidB), {
      timeoutMs: LIFETIME_MS + 5000,
      every: 100,
      what: 'info through A dropping the killed node B',
    });
    const dropped = Date.now() - killed;
    assert.ok(dropped <= LIFETIME_MS + 2000, `B dropped ${dropped} ms after the kill`);
    assert.equal((await infoUids(a)).length, 1);
    // With B gone from the registry nothing is waited for.
    const later = await channelCounts(a, all);
    assert.deepEqual(later.counts, first.counts);
    assert.ok(later.ms < SURVEY_MS, `channels answered in ${later.ms} ms`);
    figure(t, `nodes: B killed: channels through A answered in ${first.ms} ms without B, then in ${later.ms} ms; info dropped B ${dropped} ms after the kill (window ${LIFETIME_MS} ms)`);
  });

  test('a node that stops cleanly is dropped at once', async (t) => {
    const c = await Server.start({ config: redisConfig({ address: redis.address }) });
    let stopped = false;
    try {
      const uidC = (await infoUids(c))[0];
      await until(async () => (await infoUids(a)).includes(uidC), {
        timeoutMs: 10000,
        what: 'info through A listing node C',
      });
      const started = Date.now();
      await c.stop();
      stopped = true;
      await until(async () => !(await infoUids(a)).includes(uidC), {
        timeoutMs: LIFETIME_MS,
        every: 50,
        what: 'info through A dropping node C, which stopped',
      });
      const dropped = Date.now() - started;
      assert.ok(dropped < LIFETIME_MS / 2, `C dropped ${dropped} ms after SIGTERM`);
      figure(t, `nodes: a node stopped with SIGTERM is gone from info ${dropped} ms later`);
    } finally {
      if (!stopped) await c.stop();
    }
  });
});
