// Recovery under pressure, with centrifuge-js: publications that race the
// reconnects (live ones during a recovering subscribe are merged by offset),
// more missed than the recovery limit, and a server restart (a new epoch).
// Never a silent gap: either every publication once and in order, or
// `recovered: false`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { baseConfig, channel, connected, next, record, Server, sleep, subscribed, until, userToken } from './harness.mjs';

describe('recovery under pressure', () => {
  let server;
  before(async () => {
    server = await Server.start();
  });
  after(async () => {
    await server?.stop();
  });

  test('publications racing five reconnects arrive once each, in order', async () => {
    const ch = channel('chat', 'race');
    const c = server.client({ token: userToken('racer') });
    try {
      await connected(c);
      const sub = c.newSubscription(ch);
      const pubs = record(sub, 'publication');
      const subs = record(sub, 'subscribed');
      await subscribed(sub);

      // A publisher that never pauses, while the client drops and comes back.
      let published = 0;
      let stop = false;
      const publisher = (async () => {
        while (!stop && published < 2000) {
          published += 1;
          await server.publish(ch, { n: published });
        }
      })();
      for (let i = 0; i < 5; i++) {
        await sleep(150);
        const gone = next(c, 'disconnected');
        c.disconnect();
        await gone;
        await sleep(100);
        const back = next(sub, 'subscribed');
        c.connect();
        await back;
      }
      await sleep(150);
      stop = true;
      await publisher;
      assert.ok(published >= 50, `the publisher raced the reconnects: ${published} publications`);
      await until(() => pubs.length >= published, {
        timeoutMs: 10000,
        what: `all ${published} publications (have ${pubs.length})`,
      });
      await sleep(300);
      const resubscribes = subs.slice(1);
      assert.equal(resubscribes.length, 5);
      for (const s of resubscribes) {
        assert.equal(s.wasRecovering, true, JSON.stringify(s));
        assert.equal(s.recovered, true, JSON.stringify(s));
      }
      const ns = pubs.map((p) => p.data.n);
      const firstGap = ns.findIndex((n, i) => n !== i + 1);
      assert.equal(firstGap, -1, `gap or duplicate at index ${firstGap}: …${JSON.stringify(ns.slice(Math.max(0, firstGap - 3), firstGap + 3))}`);
      assert.equal(ns.length, published);
      assert.deepEqual(
        pubs.map((p) => p.offset),
        ns,
      );
    } finally {
      c.disconnect();
    }
  });

  test('more missed than the recovery limit (300): recovered false, nothing delivered', async () => {
    const ch = channel('chat', 'over');
    const c = server.client({ token: userToken('over') });
    try {
      await connected(c);
      const sub = c.newSubscription(ch);
      const pubs = record(sub, 'publication');
      await subscribed(sub);
      await server.publish(ch, { n: 1 });
      await until(() => pubs.length === 1, { what: 'the first publication' });
      const gone = next(c, 'disconnected');
      c.disconnect();
      await gone;
      // The batch API answers with top-level `replies` (no `result` wrapper).
      const res = await server.api('batch', {
        commands: Array.from({ length: 301 }, (_, i) => ({ publish: { channel: ch, data: { n: i + 2 } } })),
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.replies?.length, 301, res.text.slice(0, 300));
      assert.deepEqual(res.json.replies[300], { publish: { offset: 302, epoch: res.json.replies[0].publish.epoch } });
      const top = await server.call('history', { channel: ch });
      assert.equal(top.offset, 302);
      const again = next(sub, 'subscribed');
      c.connect();
      const s = await again;
      assert.equal(s.wasRecovering, true);
      assert.equal(s.recovered, false, JSON.stringify(s));
      assert.equal(s.streamPosition?.offset, 302);
      await sleep(300);
      assert.equal(pubs.length, 1, 'nothing delivered after a failed recovery');
      // Live publications go on from the new position.
      await server.publish(ch, { n: 303 });
      await until(() => pubs.length === 2, { what: 'the next live publication' });
      assert.equal(pubs[1].offset, 303);
    } finally {
      c.disconnect();
    }
  });
});

test('a server restart (new epoch) is not recovered: recovered false, never a silent gap', async () => {
  const config = baseConfig();
  let server = await Server.start({ config });
  const port = server.port;
  const ch = channel('chat', 'epoch');
  const c = server.client({ token: userToken('restart') });
  try {
    await connected(c);
    const sub = c.newSubscription(ch);
    const pubs = record(sub, 'publication');
    const first = await subscribed(sub);
    await server.publish(ch, { n: 1 });
    await server.publish(ch, { n: 2 });
    await until(() => pubs.length === 2, { what: 'two publications' });
    const epoch1 = first.streamPosition?.epoch;
    assert.ok(epoch1, JSON.stringify(first));

    const again = next(sub, 'subscribed', { timeoutMs: 15000 });
    await server.stop();
    server = await Server.start({ config, port });
    // The new incarnation has its own stream: offsets restart.
    await server.publish(ch, { n: 'new-1' });
    const s = await again;
    assert.equal(s.wasRecovering, true, JSON.stringify(s));
    assert.equal(s.recovered, false, JSON.stringify(s));
    assert.notEqual(s.streamPosition?.epoch, epoch1, 'a new epoch');
    await sleep(300);
    assert.equal(pubs.length, 2, 'nothing from the new stream passed off as recovered');
  } finally {
    c.disconnect();
    await server.stop();
  }
});
