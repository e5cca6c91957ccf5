// No sticky sessions for long polling: a session opened on node A is
// polled, posted to and closed through node B, as a load balancer without
// affinity would send them. B sees from the session id which node holds it
// and forwards each poll through Redis; the answers come back the same
// way, batch by batch, with nothing lost or repeated.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { channel, figure, Redis, startNodes, userToken } from './harness.mjs';

/** A long-poll request's lines, parsed. */
async function post(url, body) {
  const res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(40_000) });
  const text = await res.text();
  return { status: res.status, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

describe('a long-poll session on A polled through B', () => {
  let redis;
  let a;
  let b;

  before(async () => {
    redis = await Redis.start();
    [a, b] = await startNodes(2, { address: redis.address });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test('subscribe, publications from both nodes and close, all through B', async (t) => {
    const connect = JSON.stringify({ id: 1, connect: { token: userToken('lp-user') } });
    const opened = await post(`${a.origin}/connection/long_poll`, connect);
    assert.equal(opened.status, 200);
    const session = opened.lines[0].poll.session;
    const node = opened.lines[1].connect.node;
    assert.ok(session.startsWith(`${node}.`), session);

    const ch = channel('drill', 'lp');
    const data = JSON.stringify({ id: 2, subscribe: { channel: ch } });
    const sent = await fetch(`${b.origin}/emulation`, {
      method: 'POST',
      body: JSON.stringify({ session, node, data }),
    });
    assert.equal(sent.status, 204);

    const poll = (ack) => post(`${b.origin}/connection/long_poll?session=${session}&ack=${ack}`);
    const started = Date.now();
    const second = await poll(1);
    assert.deepEqual(second.lines[0], { poll: { seq: 2 } });
    assert.ok(second.lines[1].subscribe, JSON.stringify(second.lines));

    // Held on A while B waits for it; publications through either node.
    const got = [];
    let ack = 2;
    const want = [];
    for (let i = 1; i <= 6; i++) want.push(i);
    const publishing = (async () => {
      for (const i of want) {
        await (i % 2 ? a : b).publish(ch, { i });
      }
    })();
    while (got.length < want.length) {
      const batch = await poll(ack);
      if (batch.lines.length === 0) continue;
      ack = batch.lines[0].poll.seq;
      for (const line of batch.lines.slice(1)) {
        if (line.push?.pub) got.push(line.push.pub.data.i);
      }
    }
    await publishing;
    assert.deepEqual(got, want);
    // A lost answer: the same ack again gets the same batch again.
    const again = await poll(ack - 1);
    assert.equal(again.lines[0].poll.seq, ack);

    const closed = await fetch(`${b.origin}/connection/long_poll?session=${session}&close`, { method: 'POST' });
    assert.equal(closed.status, 204);
    const gone = await post(`${a.origin}/connection/long_poll?session=${session}&ack=${ack}`);
    assert.equal(gone.lines[0].push.disconnect.code, 3010);
    figure(t, `long poll: session on A, ${ack - 1} polls and a close through B; ${got.length} publications (through A and B) in order, once each, ${Date.now() - started} ms`);
  });
});
