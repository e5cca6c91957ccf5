// Drill 2: `kill -9` node A while ~1,000 publications/s flow through node
// B's server API. The centrifuge-js client reaches the nodes through a TCP
// failover proxy (a load balancer's job: each connection goes to A while A
// accepts, else to B); its subscription is in a namespace with history and
// forced recovery. When A dies it reconnects — to B — with its offset and
// epoch, recovers what it missed from Redis, and ends with every
// publication exactly once, in order (compared with the full list in
// offset order, as the API answered them).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertExactlyOnceInOrder, Centrifuge, channel, connected, failoverProxy, figure, killNode, publishAtRate, Redis,
  sleep, startNodes, subscribed, until, userToken, WebSocket,
} from './harness.mjs';

/** Publications per second asked of B's API. */
const RATE = 1000;
/** How long the publisher runs, and when A is killed. */
const RUN_MS = 4000;
const KILL_AT_MS = 1500;

// Twice: with B holding no subscriber of the channel (the failed-over
// client's subscribe links it afresh and recovers from Redis), and with a
// subscriber already on B (the recovery reads B's live mirror of the channel).
for (const bystander of [false, true]) describe(`node A killed while publications flow through B${bystander ? ', which has a subscriber of the channel too' : ''}`, () => {
  let redis;
  let a;
  let b;
  let proxy;
  let client;
  let other;

  before(async () => {
    redis = await Redis.start();
    [a, b] = await startNodes(2, { address: redis.address });
    proxy = await failoverProxy([a.port, b.port]);
  });
  after(async () => {
    client?.disconnect();
    other?.disconnect();
    await proxy?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test('the client reconnects to B with its position and ends with every publication exactly once, in order', async (t) => {
    const ch = channel('drill', 'failover');
    client = new Centrifuge(proxy.wsUrl, {
      websocket: WebSocket,
      token: userToken('failover'),
      minReconnectDelay: 100,
      maxReconnectDelay: 1000,
    });
    const events = [];
    const at = () => Date.now();
    client.on('connecting', (ctx) => events.push({ at: at(), what: 'connecting', code: ctx.code, reason: ctx.reason }));
    client.on('connected', (ctx) => events.push({ at: at(), what: 'connected', client: ctx.client }));
    client.on('disconnected', (ctx) => events.push({ at: at(), what: 'disconnected', code: ctx.code }));
    await connected(client);
    assert.equal(proxy.connections.get(a.port), 1, 'the first connection goes to A');

    const sub = client.newSubscription(ch);
    const got = [];
    const subs = [];
    sub.on('publication', (ctx) => got.push(ctx));
    sub.on('subscribed', (ctx) => subs.push({ at: at(), recovered: ctx.recovered, wasRecovering: ctx.wasRecovering }));
    sub.on('subscribing', (ctx) => events.push({ at: at(), what: 'subscribing', code: ctx.code }));
    sub.on('unsubscribed', (ctx) => events.push({ at: at(), what: 'unsubscribed', code: ctx.code }));
    await subscribed(sub);
    const gotOther = [];
    if (bystander) {
      other = b.client({ token: userToken('bystander') });
      await connected(other);
      const s = other.newSubscription(ch);
      s.on('publication', (ctx) => gotOther.push(ctx.data.n));
      await subscribed(s);
    }

    // The publisher: ~RATE publications/s through B's API (a batch call
    // every 10 ms); A is killed KILL_AT_MS into the run.
    let start = 0;
    let killedAt = 0;
    let exitedAt = 0;
    let killing;
    const run = await publishAtRate(b, ch, {
      rate: RATE,
      ms: RUN_MS,
      onTick: (elapsed) => {
        if (!start) start = at() - elapsed;
        if (!killing && elapsed >= KILL_AT_MS) {
          killedAt = at();
          killing = killNode(a).then(() => (exitedAt = at()));
        }
      },
    });
    await killing;
    const { results, failures, total } = run;
    const publishedIn = run.elapsed;
    assert.deepEqual(failures, [], 'every publish through B succeeded');
    assert.equal(results.length, total);

    results.sort((x, y) => x.offset - y.offset);
    assert.deepEqual(results.map((r) => r.offset), results.map((_, i) => i + 1), 'offsets 1..N, no hole');
    assert.equal(new Set(results.map((r) => r.epoch)).size, 1, 'one epoch');
    const want = results.map((r) => r.n);

    await until(() => got.length >= want.length && (!bystander || gotOther.length >= want.length), {
      timeoutMs: 20000,
      what: `all ${want.length} publications at the client (it has ${got.length}; the subscriber on B ${gotOther.length})`,
    }).catch((e) => {
      throw new Error(`${e.message}\npublished in ${publishedIn} ms; killed at ${killedAt - start} ms; ` +
        `client ${client.state}, subscription ${sub.state}\nevents: ${JSON.stringify(events.map((x) => ({ ...x, at: x.at - start })))}` +
        `\nsubscribed: ${JSON.stringify(subs.map((x) => ({ ...x, at: x.at - start })))}\n--- B ---\n${b.output()}`);
    });
    await sleep(300);
    assertExactlyOnceInOrder(got.map((p) => p.data.n), want, 'the client across the failover');
    if (bystander) assertExactlyOnceInOrder(gotOther, want, 'the subscriber on B');

    // It did fail over: a second connection, through the proxy to B, and a
    // resubscription that recovered.
    assert.ok((proxy.connections.get(b.port) ?? 0) >= 1, 'a connection went to B');
    assert.equal(client.state, 'connected');
    const after = subs.filter((s) => s.at >= killedAt);
    assert.ok(after.length >= 1, 'resubscribed after the kill');
    assert.ok(after.every((s) => s.wasRecovering && s.recovered), `recovered: ${JSON.stringify(after)}`);
    const proxyEnd = proxy.log.find((e) => e.at >= killedAt);
    const lostAt = events.find((e) => e.at >= killedAt && e.what === 'connecting');
    const backAt = after[0].at;
    const duringGap = results.filter((r) => r.n >= Math.floor(((killedAt - start) * RATE) / 1000)
      && r.n < Math.floor(((backAt - start) * RATE) / 1000)).length;
    const rate = Math.round((total * 1000) / publishedIn);
    figure(t, `drill 2 (${bystander ? 'B already subscribed' : 'B not subscribed'}): ${total} publications through B at ~${rate}/s; A killed at ${KILL_AT_MS} ms (its exit seen ${exitedAt - killedAt} ms later, ` +
      `its connection ended at the proxy after ${proxyEnd ? proxyEnd.at - killedAt : '?'} ms); ` +
      `client saw "connecting" (code ${lostAt?.code}) after ${lostAt ? lostAt.at - killedAt : '?'} ms and was ` +
      `resubscribed on B with recovered=true ${backAt - killedAt} ms after the kill; ` +
      `~${duringGap} publications made between kill and resubscription came by recovery; ` +
      `received ${got.length} of ${total}, each once, in offset order; ` +
      `proxy connections: A ${proxy.connections.get(a.port) ?? 0}, B ${proxy.connections.get(b.port) ?? 0}`);
  });
});
