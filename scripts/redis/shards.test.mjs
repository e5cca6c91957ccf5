// Two `pushwire serve` nodes on two independent redis-servers used as
// shards (`engine.redis.address` a list: each channel lives on one of them,
// chosen by a consistent hash of its name): publications through node B
// over 8 channels reach node A's subscriber in order, once each, and both
// Redis servers hold some of the channels.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertExactlyOnceInOrder, connected, figure, Redis, startNodes, subscribed, until, userToken,
} from './harness.mjs';

const COUNT = 400;
const CHANNELS = 8;

describe('two nodes on two Redis shards', () => {
  let shards;
  let a;
  let b;
  let client;

  before(async () => {
    shards = [await Redis.start(), await Redis.start()];
    [a, b] = await startNodes(2, { address: shards.map((s) => s.address) });
  });
  after(async () => {
    client?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all((shards ?? []).map((s) => s.stop()));
  });

  test(`${COUNT} publications through B over ${CHANNELS} channels on two shards reach A in order, once`, async (t) => {
    const stem = `sh${Date.now().toString(36)}`;
    const channels = Array.from({ length: CHANNELS }, (_, i) => `drill:${stem}_${i}`);
    client = a.client({ token: userToken('shard-reader') });
    await connected(client);
    const got = new Map(channels.map((ch) => [ch, []]));
    const subs = channels.map((ch) => {
      const s = client.newSubscription(ch);
      s.on('publication', (ctx) => got.get(ch).push(ctx.data.n));
      return s;
    });
    await Promise.all(subs.map((s) => subscribed(s)));

    const want = new Map(channels.map((ch) => [ch, []]));
    for (let i = 0; i < COUNT; i++) {
      const ch = channels[i % CHANNELS];
      const r = await b.publish(ch, { n: i });
      assert.equal(r.offset, want.get(ch).length + 1);
      want.get(ch).push(i);
    }
    await until(() => channels.every((ch) => got.get(ch).length >= want.get(ch).length), {
      timeoutMs: 15000,
      what: `${COUNT} publications on A`,
    });
    await new Promise((r) => setTimeout(r, 200));
    for (const ch of channels) assertExactlyOnceInOrder(got.get(ch), want.get(ch), ch);

    // Each channel's stream is on exactly one shard, and both shards have some.
    const held = [];
    for (const s of shards) {
      const keys = (await s.cli('--scan', '--pattern', `*stream*${stem}*`)).split('\n').filter(Boolean);
      held.push(keys.length);
    }
    assert.equal(held[0] + held[1], CHANNELS, `streams per shard: ${held}`);
    assert.ok(held[0] > 0 && held[1] > 0, `both shards hold channels: ${held}`);
    figure(t, `shards: ${CHANNELS} channels spread ${held.join(' + ')} over two redis-servers; ` +
      `${COUNT} publications through B all received on A in order, once each`);
  });
});
