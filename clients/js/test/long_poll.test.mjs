// Long polling's bookkeeping: the cursor (which batch the client has, what
// an answer holds), and the transport driven through a scripted `fetch`
// where the test plays the hub's side of /connection/long_poll as
// pushwire's README documents it — answers, lost responses, an expired
// session. No sockets; the only clock is the transport's own retry delay.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, errorCodes } from '../pushwire.js';
import { LongPollTransport, MAX_POLL_RETRIES, PollCursor, pollRetryDelay } from '../pushwire/transports.js';

const ENDPOINT = 'http://hub.test/connection/long_poll';

/** A `fetch` whose answers the test gives, request by request. */
class ScriptedFetch {
  constructor() {
    /** Requests not yet taken by `next()`. */
    this.queue = [];
    this.waiters = [];
    this.fetch = (url, init = {}) =>
      new Promise((resolve, reject) => {
        const u = new URL(url);
        const request = {
          url: u,
          init,
          session: u.searchParams.get('session'),
          ack: u.searchParams.has('ack') ? Number(u.searchParams.get('ack')) : null,
          close: u.searchParams.has('close'),
          /** Answers with `status` and `body`. */
          answer: (body, status = 200) =>
            resolve({ ok: status >= 200 && status < 300, status, text: async () => body, body: null }),
          /** The network fails. */
          fail: (message = 'network error') => reject(new TypeError(message)),
        };
        init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        const waiter = this.waiters.shift();
        if (waiter) waiter(request);
        else this.queue.push(request);
      });
  }

  /** The next request the transport makes. */
  next() {
    const request = this.queue.shift();
    if (request) return Promise.resolve(request);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('no request within 5 s')), 5000);
      this.waiters.push((r) => {
        clearTimeout(timer);
        ok(r);
      });
    });
  }
}

const lines = (...messages) => messages.map((m) => JSON.stringify(m) + '\n').join('');
const pollLine = (seq, session) => ({ poll: session ? { seq, session } : { seq } });

/** A transport on a scripted fetch, recording what it reports. */
function transport() {
  const script = new ScriptedFetch();
  const env = { fetch: script.fetch, emulationEndpoint: 'http://hub.test/emulation', maxMessageSize: 1 << 20, maxBatchBytes: 32 << 10 };
  const t = new LongPollTransport(ENDPOINT, env);
  const seen = { opened: 0, messages: [], closes: [] };
  t.open('{"id":1,"connect":{}}', {
    onOpen: () => seen.opened++,
    onMessage: (text) => seen.messages.push(JSON.parse(text)),
    onClose: (ctx) => seen.closes.push(ctx),
  });
  return { t, script, seen };
}

/** Answers the open request with batch 1 holding the connect reply. */
async function opened(script, session = 's1') {
  const open = await script.next();
  assert.equal(open.init.method, 'POST');
  assert.equal(open.init.body, '{"id":1,"connect":{}}');
  assert.equal(open.session, null);
  open.answer(lines(pollLine(1, session), { id: 1, connect: { client: 'c1', session, pong: true } }));
}

describe('PollCursor', () => {
  test('batches move the ack; duplicates are skipped whole; empty answers change nothing', () => {
    const cursor = new PollCursor();
    assert.deepEqual(cursor.accept(lines(pollLine(1, 's9'), { id: 1, connect: {} })), { kind: 'batch', messages: ['{"id":1,"connect":{}}'] });
    assert.equal(cursor.session, 's9');
    assert.equal(cursor.ack, 1);
    assert.deepEqual(cursor.accept(''), { kind: 'empty', messages: [] });
    assert.equal(cursor.ack, 1);
    const second = lines(pollLine(2), { push: { pub: { offset: 1 } } }, {});
    assert.deepEqual(cursor.accept(second).messages, ['{"push":{"pub":{"offset":1}}}', '{}']);
    assert.equal(cursor.ack, 2);
    // The same batch again (a response replayed) is not delivered twice.
    assert.deepEqual(cursor.accept(second), { kind: 'duplicate', messages: [] });
    assert.deepEqual(cursor.accept(lines(pollLine(1, 'other'))), { kind: 'duplicate', messages: [] });
    assert.equal(cursor.session, 's9', 'the session is the open response\'s');
    assert.equal(cursor.ack, 2);
    assert.equal(cursor.over, false);
  });

  test('a skipped batch or a bad poll line is an error; a body without a poll line is final', () => {
    const cursor = new PollCursor();
    cursor.accept(lines(pollLine(1, 's')));
    assert.throws(() => cursor.accept(lines(pollLine(3))), (e) => e.code === errorCodes.connectionClosed && /batch 3 after 1/.test(e.message));
    assert.throws(() => cursor.accept('{"poll":{"seq":"2"}}\n'), /bad long poll line/);
    assert.throws(() => cursor.accept('{"poll":\n'), /bad long poll line/);
    assert.equal(cursor.ack, 1);
    const push = { push: { disconnect: { code: 3010, reason: 'long poll session expired or unknown' } } };
    assert.deepEqual(cursor.accept(lines(push)), { kind: 'final', messages: [JSON.stringify(push)] });
    assert.equal(cursor.over, true);
  });

  test('retries back off from 250 ms to 4 s, within the session\'s lifetime', () => {
    const delays = Array.from({ length: MAX_POLL_RETRIES }, (_, i) => pollRetryDelay(i + 1));
    assert.deepEqual(delays, [250, 500, 1000, 2000, 4000]);
    assert.ok(delays.reduce((a, b) => a + b) < 25000);
  });
});

describe('LongPollTransport', () => {
  test('opens with the connect command, then polls with the ack of each batch it delivered', async () => {
    const { t, script, seen } = transport();
    await opened(script);
    let poll = await script.next();
    assert.equal(seen.opened, 1);
    assert.equal(seen.messages[0].connect.session, 's1');
    assert.equal(poll.session, 's1');
    assert.equal(poll.ack, 1);
    assert.equal(poll.init.body, undefined, 'no body: a simple request');
    assert.equal(poll.init.headers, undefined);
    poll.answer('');
    poll = await script.next();
    assert.equal(poll.ack, 1, 'an empty answer leaves the ack');
    poll.answer(lines(pollLine(2), { push: { channel: 'a', pub: { data: 1, offset: 1 } } }, {}));
    poll = await script.next();
    assert.equal(poll.ack, 2);
    assert.deepEqual(seen.messages.slice(1), [{ push: { channel: 'a', pub: { data: 1, offset: 1 } } }, {}]);
    assert.deepEqual(seen.closes, []);
    t.close();
  });

  test('a lost response: the poll is retried with the same ack, and the batch sent again is delivered once', async () => {
    const { t, script, seen } = transport();
    await opened(script);
    const batch2 = lines(pollLine(2), { push: { channel: 'a', pub: { data: 'x', offset: 1 } } });
    // The hub handed out batch 2, but the response never arrived.
    let poll = await script.next();
    poll.fail('socket hang up');
    poll = await script.next();
    assert.equal(poll.ack, 1, 'the lost batch is asked for again');
    poll.answer(batch2);
    poll = await script.next();
    assert.equal(poll.ack, 2);
    // A replayed answer (a proxy retried the request) is skipped.
    poll.answer(batch2);
    poll = await script.next();
    assert.equal(poll.ack, 2);
    poll.answer(lines(pollLine(3), { push: { channel: 'a', pub: { data: 'y', offset: 2 } } }));
    await script.next();
    const pubs = seen.messages.filter((m) => m.push?.pub).map((m) => m.push.pub.data);
    assert.deepEqual(pubs, ['x', 'y'], 'each once, in order');
    assert.deepEqual(seen.closes, []);
    t.close();
  });

  test('an expired session: its disconnect push is delivered and the transport ends, with no more polls', async () => {
    const { script, seen } = transport();
    await opened(script);
    const poll = await script.next();
    const push = { push: { disconnect: { code: 3010, reason: 'long poll session expired or unknown' } } };
    poll.answer(lines(push));
    await new Promise((ok) => setTimeout(ok, 20));
    assert.deepEqual(seen.messages.at(-1), push);
    assert.deepEqual(seen.closes, [{ code: errorCodes.connectionClosed, reason: 'long poll session ended' }]);
    assert.equal(script.queue.length, 0, 'no poll, and no close for a session the hub ended');
  });

  test('close() tells the hub the session is over; a 4xx on a poll ends the transport', async () => {
    {
      const { t, script, seen } = transport();
      await opened(script);
      const held = await script.next();
      t.close();
      const close = await script.next();
      assert.equal(close.close, true);
      assert.equal(close.session, 's1');
      assert.equal(close.init.keepalive, true);
      held.answer('');
      assert.deepEqual(seen.closes, [], 'close() reports nothing');
    }
    {
      const { script, seen } = transport();
      await opened(script, 's2');
      (await script.next()).answer('not found', 404);
      const close = await script.next();
      assert.equal(close.close, true);
      assert.equal(seen.closes.length, 1);
      assert.match(seen.closes[0].reason, /answered 404/);
    }
  });
});

describe('a Client over long polling', () => {
  test('connects, and reconnects with a new session when the hub says its session expired', async () => {
    const script = new ScriptedFetch();
    const c = new Client('http://hub.test', { transports: ['long_polling'], fetch: script.fetch, minReconnectDelay: 1, maxReconnectDelay: 5 });
    const connected = [];
    c.on('connected', (ctx) => connected.push(ctx));
    try {
      c.connect();
      const open = await script.next();
      assert.equal(open.url.pathname, '/connection/long_poll');
      const connect = JSON.parse(open.init.body);
      open.answer(lines(pollLine(1, 's1'), { id: connect.id, connect: { client: 'c1', session: 's1', pong: true } }));
      const poll = await script.next();
      assert.equal(c.state, 'connected');
      assert.deepEqual(connected, [{ client: 'c1', transport: 'long_polling' }]);
      poll.answer(lines({ push: { disconnect: { code: 3010, reason: 'long poll session expired or unknown' } } }));
      const reopen = await script.next();
      assert.equal(reopen.session, null, 'a fresh open');
      assert.equal(c.state, 'connecting');
      assert.equal(c.stateReason.code, 3010);
      const again = JSON.parse(reopen.init.body);
      reopen.answer(lines(pollLine(1, 's2'), { id: again.id, connect: { client: 'c2', session: 's2', pong: true } }));
      const next = await script.next();
      assert.equal(next.session, 's2');
      assert.equal(next.ack, 1);
      assert.equal(c.state, 'connected');
    } finally {
      c.disconnect();
    }
  });
});
