// Drill 3: Redis goes away under two `pushwire serve` nodes.
//
// - Killed (SIGKILL) and kept down: publishes through either node's API
//   fail with error 100 at once, connected clients stay connected. Then a
//   fresh redis-server on the same port (no persistence: everything is
//   gone, positions included): the subscribers are made to resubscribe,
//   recovery says `recovered: false` (a new epoch — never a silent gap),
//   and service resumes by itself: publishes work and reach both nodes.
// - Frozen (SIGSTOP: sockets open, no answers): a publish fails with
//   error 100 within the engine's io_timeout (1 s here), clients stay
//   connected, and after SIGCONT it all works again with nothing lost.
// - Its pub/sub connections cut (`CLIENT KILL TYPE pubsub`) while
//   publications flow: publications sent meanwhile never reach node A by
//   pub/sub, yet A's subscriber is made to recover (2500) and ends with
//   every publication once, in order, `recovered: true`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertExactlyOnceInOrder, channel, connected, figure, publishAtRate, Redis, sleep, startNodes, subscribed, until,
  userToken,
} from './harness.mjs';

/** Publishes through `node`; resolves to `{ms, code, result}` (code: the API error's, if any). */
async function timedPublish(node, ch, data) {
  const t0 = Date.now();
  const res = await node.api('publish', { channel: ch, data }, { timeoutMs: 10000 });
  return { ms: Date.now() - t0, code: res.json?.error?.code, result: res.json?.result, status: res.status };
}

describe('Redis lost under two nodes', () => {
  let redis;
  let a;
  let b;
  const clients = [];

  /** A connected client on `node` subscribed to `ch`, with what it sees. */
  async function watcher(node, user, ch) {
    const c = node.client({ token: userToken(user) });
    clients.push(c);
    const seen = { pubs: [], subscribed: [], connection: [], unsubscribes: [] };
    await connected(c);
    c.on('connecting', (ctx) => seen.connection.push(`connecting ${ctx.code}`));
    c.on('disconnected', (ctx) => seen.connection.push(`disconnected ${ctx.code}`));
    const sub = c.newSubscription(ch);
    sub.on('publication', (ctx) => seen.pubs.push(ctx.data.n));
    sub.on('subscribed', (ctx) => seen.subscribed.push({ at: Date.now(), recovered: ctx.recovered, wasRecovering: ctx.wasRecovering }));
    sub.on('subscribing', (ctx) => ctx.code !== 0 && seen.unsubscribes.push(ctx.code));
    await subscribed(sub);
    return { c, sub, seen };
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

  test('Redis killed: publish fails with 100 at once, clients stay; restarted empty: recovered=false, service resumes', async (t) => {
    const ch = channel('drill', 'restart');
    const wa = await watcher(a, 'ann', ch);
    const wb = await watcher(b, 'ben', ch);
    for (let i = 0; i < 50; i++) await b.publish(ch, { n: i });
    await until(() => wa.seen.pubs.length === 50 && wb.seen.pubs.length === 50, { what: '50 publications on both' });

    await redis.kill();
    const down = Date.now();
    const failed = [];
    for (const node of [a, b]) {
      const r = await timedPublish(node, ch, { n: -1 });
      assert.equal(r.code, 100, `publish with Redis down: ${JSON.stringify(r)}`);
      assert.ok(r.ms < 2500, `the error came after ${r.ms} ms`);
      failed.push(r.ms);
    }
    // Kept down a while: the clients stay connected; their subscriptions
    // were told to resubscribe (2500) and keep trying.
    await sleep(1500);
    for (const w of [wa, wb]) {
      assert.equal(w.c.state, 'connected');
      assert.deepEqual(w.seen.connection, [], 'no reconnection');
    }

    await redis.restart();
    const up = Date.now();
    // The nodes reconnect by themselves: a publish (into another channel)
    // works again through each.
    const serviceBack = [];
    for (const node of [a, b]) {
      await until(async () => (await timedPublish(node, `${ch}_probe`, {})).result, {
        timeoutMs: 10000,
        what: `node ${node.port} publishing again`,
        every: 50,
      });
      serviceBack.push(Date.now() - up);
    }
    // Each subscriber resubscribes by itself; the epoch is new, so the
    // recovery says it could not recover: never a silent gap.
    for (const w of [wa, wb]) {
      await until(() => w.seen.subscribed.some((s) => s.at >= up), {
        timeoutMs: 15000,
        what: `a resubscription after the restart (${JSON.stringify(w.seen)})`,
      });
      const again = w.seen.subscribed.filter((s) => s.at >= down);
      assert.ok(again.every((s) => s.wasRecovering && s.recovered === false), JSON.stringify(again));
      assert.ok(w.seen.unsubscribes.includes(2500), `told to resubscribe with 2500: ${w.seen.unsubscribes}`);
    }
    const resubscribedAfter = Math.max(...[wa, wb].map((w) => w.seen.subscribed.find((s) => s.at >= up).at)) - up;

    // Service resumed: a publication through A reaches both, in the new epoch.
    const r = await until(async () => {
      const p = await timedPublish(a, ch, { n: 1000 });
      return p.result ? p : null;
    }, { timeoutMs: 10000, what: 'a publish that works again' });
    assert.equal(r.result.offset, 1, 'offsets start over in the new epoch');
    for (const w of [wa, wb]) {
      await until(() => w.seen.pubs.includes(1000), { what: 'the publication after the restart' });
      assert.deepEqual(w.seen.pubs.filter((n) => n !== 1000), [...Array(50).keys()], 'nothing else, nothing twice');
      assert.equal(w.c.state, 'connected');
      assert.deepEqual(w.seen.connection, [], 'the connection was never lost');
    }
    figure(t, `drill 3: Redis killed: publish on A and B answered error 100 in ${failed.join(' and ')} ms; ` +
      `clients stayed connected, subscriptions unsubscribed with 2500 and retried; Redis restarted empty: ` +
      `publish worked again on A and B ${serviceBack.join(' and ')} ms later, the clients (their resubscribe backoff) ` +
      `resubscribed ${resubscribedAfter} ms later with recovered=false (new epoch, offset 1 next); ` +
      `publish via A delivered on both`);
  });

  test('Redis frozen: publish fails with 100 within the io_timeout, clients stay; thawed: nothing lost', async (t) => {
    const ch = channel('drill', 'frozen');
    const wa = await watcher(a, 'cat', ch);
    const wb = await watcher(b, 'dan', ch);
    for (let i = 0; i < 20; i++) await b.publish(ch, { n: i });
    await until(() => wa.seen.pubs.length === 20 && wb.seen.pubs.length === 20, { what: '20 publications on both' });

    redis.pause();
    let r;
    try {
      r = await Promise.all([timedPublish(a, ch, { n: -1 }), timedPublish(b, ch, { n: -2 })]);
    } finally {
      // Keep it frozen a little past the timeouts, then thaw.
      await sleep(500);
      redis.resume();
    }
    for (const p of r) {
      assert.equal(p.code, 100, `publish with Redis frozen: ${JSON.stringify(p)}`);
      assert.ok(p.ms >= 500 && p.ms < 2500, `error 100 after ${p.ms} ms (io_timeout 1 s)`);
    }
    for (const w of [wa, wb]) assert.equal(w.c.state, 'connected');

    const back = await until(async () => {
      const p = await timedPublish(b, ch, { n: 20 });
      return p.result ? p : null;
    }, { timeoutMs: 10000, what: 'a publish that works after the thaw' });
    for (const w of [wa, wb]) {
      // A publish that timed out may still have been carried out by Redis
      // after the thaw: if it was, it arrives (in order); nothing is lost.
      await until(() => w.seen.pubs.includes(20), { what: 'the publication after the thaw' });
      const kept = w.seen.pubs.filter((n) => n >= 0);
      assert.deepEqual(kept, [...Array(21).keys()]);
      assert.deepEqual(w.seen.connection, [], 'the connection was never lost');
    }
    figure(t, `drill 3: Redis frozen (SIGSTOP): publish on A and B answered error 100 after ${r.map((p) => p.ms).join(' and ')} ms; ` +
      `clients stayed connected; after SIGCONT publish worked (offset ${back.result.offset}) and both subscribers ` +
      `had 21 of 21 in order (late-applied timed-out publishes seen: A ${wa.seen.pubs.filter((n) => n < 0).length}, B ${wb.seen.pubs.filter((n) => n < 0).length})`);
  });

  test('pub/sub connections cut under load: the subscriber recovers, every publication once, in order', async (t) => {
    const ch = channel('drill', 'cut');
    const wa = await watcher(a, 'eve', ch);
    let cutAt = 0;
    let cut;
    const run = await publishAtRate(b, ch, {
      rate: 500,
      ms: 3000,
      onTick: (elapsed) => {
        if (!cut && elapsed >= 1000) {
          cutAt = Date.now();
          cut = redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
        }
      },
    });
    const killed = Number(await cut);
    assert.ok(killed >= 2, `pub/sub connections cut: ${killed}`);
    assert.deepEqual(run.failures, []);
    run.results.sort((x, y) => x.offset - y.offset);
    const want = run.results.map((r) => r.n);
    await until(() => wa.seen.pubs.length >= want.length, {
      timeoutMs: 15000,
      what: `all ${want.length} publications (has ${wa.seen.pubs.length})`,
    });
    await sleep(300);
    assertExactlyOnceInOrder(wa.seen.pubs, want, 'the subscriber on A');
    const again = wa.seen.subscribed.filter((s) => s.at >= cutAt);
    assert.ok(again.length >= 1 && again.every((s) => s.wasRecovering && s.recovered), JSON.stringify(again));
    assert.ok(wa.seen.unsubscribes.includes(2500));
    assert.deepEqual(wa.seen.connection, []);
    figure(t, `drill 3: ${killed} pub/sub connections cut under ${run.total} publications at 500/s: the subscriber on A ` +
      `was told 2500 ${wa.seen.unsubscribes.filter((c) => c === 2500).length} time(s), resubscribed with recovered=true ` +
      `${again[0].at - cutAt} ms after the cut, and has all ${want.length}, each once, in order`);
  });
});
