// Pure logic of pushwire.js, no transport: backoff, the codes that decide
// reconnect or stop, framing of commands, replies and event streams, and
// the stream position that drives recovery.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backoffDelay,
  batchCommands,
  connectErrorAction,
  decodeFrame,
  encodeCommands,
  endpointUnder,
  EventStreamDecoder,
  hubBase,
  LineDecoder,
  PushwireError,
  reconnectAfterClose,
  resubscribeAfterUnsubscribe,
  StreamPosition,
  subscribeErrorAction,
  transportPlan,
} from '../pushwire.js';

describe('backoffDelay (full jitter)', () => {
  test('is min plus the random share of a window that doubles per attempt', () => {
    assert.equal(backoffDelay(0, 500, 20000, () => 0), 500);
    assert.equal(backoffDelay(0, 500, 20000, () => 0.5), 750);
    assert.equal(backoffDelay(1, 500, 20000, () => 0.5), 1000);
    assert.equal(backoffDelay(3, 500, 20000, () => 0.5), 2500);
  });

  test('never exceeds max, even for huge attempts', () => {
    for (const attempt of [6, 10, 31, 100, 1e9]) {
      assert.equal(backoffDelay(attempt, 500, 20000, () => 0.999999), 20000);
    }
  });

  test('spreads clients over the window (the random source decides)', () => {
    const seen = new Set();
    for (let i = 0; i < 10; i++) seen.add(backoffDelay(4, 500, 20000, () => i / 10));
    assert.equal(seen.size, 10);
    for (const d of seen) assert.ok(d >= 500 && d <= 8500, `${d}`);
  });

  test('a negative attempt counts as the first', () => {
    assert.equal(backoffDelay(-3, 100, 1000, () => 0.5), 150);
  });
});

describe('disconnect and error codes', () => {
  test('close codes: transport failures, advice to reconnect, and terminal ones', () => {
    for (const code of [1000, 1001, 1006, 1011, 1012, 2, 4, 3000, 3001, 3005, 3008, 3012, 3499, 4000, 4499, 5000])
      assert.equal(reconnectAfterClose(code), true, `${code}`);
    for (const code of [1009, 3500, 3501, 3503, 3504, 3507, 3999, 4500, 4999])
      assert.equal(reconnectAfterClose(code), false, `${code}`);
  });

  test('connect errors: 109 refreshes the token, temporary and client-side retry, the rest stop', () => {
    assert.equal(connectErrorAction({ code: 109 }), 'refreshToken');
    assert.equal(connectErrorAction({ code: 1 }), 'reconnect');
    assert.equal(connectErrorAction({ code: 100, temporary: true }), 'reconnect');
    assert.equal(connectErrorAction({ code: 101 }), 'stop');
    assert.equal(connectErrorAction({ code: 110 }), 'stop');
  });

  test('subscribe errors: 103 and 102 unsubscribe for good, 109 and temporary retry', () => {
    assert.equal(subscribeErrorAction({ code: 103 }), 'unsubscribe');
    assert.equal(subscribeErrorAction({ code: 102 }), 'unsubscribe');
    assert.equal(subscribeErrorAction({ code: 109 }), 'refreshToken');
    assert.equal(subscribeErrorAction({ code: 111, temporary: true }), 'resubscribe');
    assert.equal(subscribeErrorAction({ code: 1 }), 'resubscribe');
  });

  test('unsubscribe pushes: 2500 and up resubscribe', () => {
    assert.equal(resubscribeAfterUnsubscribe(2000), false);
    assert.equal(resubscribeAfterUnsubscribe(0), false);
    assert.equal(resubscribeAfterUnsubscribe(2500), true);
    assert.equal(resubscribeAfterUnsubscribe(2501), true);
  });
});

describe('framing', () => {
  test('commands issued together become one frame of JSON lines', () => {
    const frame = encodeCommands([{ id: 1, connect: { token: 't' } }, { id: 2, subscribe: { channel: 'a' } }]);
    assert.equal(frame, '{"id":1,"connect":{"token":"t"}}\n{"id":2,"subscribe":{"channel":"a"}}');
  });

  test('batchCommands keeps frames under the byte limit, in order; a command over it goes alone', () => {
    const cmd = (n, text = 'x') => ({ id: n, publish: { channel: 'c', data: text } });
    const one = JSON.stringify(cmd(1)).length; // 42 bytes
    assert.deepEqual(batchCommands([cmd(1), cmd(2), cmd(3)], 1000), [[1, 2, 3].map((n) => JSON.stringify(cmd(n))).join('\n')]);
    const frames = batchCommands([cmd(1), cmd(2), cmd(3), cmd(4), cmd(5)], 2 * one + 1);
    assert.deepEqual(frames.map((f) => f.split('\n').map((l) => JSON.parse(l).id)), [[1, 2], [3, 4], [5]]);
    for (const f of frames) assert.ok(Buffer.byteLength(f) <= 2 * one + 1);
    const big = batchCommands([cmd(1), cmd(2, 'y'.repeat(500)), cmd(3)], 100);
    assert.deepEqual(big.map((f) => f.split('\n').map((l) => JSON.parse(l).id)), [[1], [2], [3]]);
  });

  test('batchCommands counts UTF-8 bytes, not characters', () => {
    const cmd = (n) => ({ id: n, publish: { channel: 'c', data: 'é€😀' } }); // 2 + 3 + 4 bytes
    const bytes = Buffer.byteLength(JSON.stringify(cmd(1)));
    assert.equal(batchCommands([cmd(1), cmd(2)], 2 * bytes + 1).length, 1);
    assert.equal(batchCommands([cmd(1), cmd(2)], 2 * bytes).length, 2);
  });

  test('a frame of replies and pushes decodes in order; blank lines and a ping are kept apart', () => {
    const got = decodeFrame('{"id":1,"connect":{}}\n\n{"push":{"channel":"c","pub":{"data":1}}}\n{}\n');
    assert.deepEqual(got, [{ id: 1, connect: {} }, { push: { channel: 'c', pub: { data: 1 } } }, {}]);
  });

  test('a line that is not a JSON object is a protocol error naming it', () => {
    assert.throws(() => decodeFrame('{"id":1}\nnope'), (e) => e instanceof PushwireError && /not JSON: nope/.test(e.message));
    assert.throws(() => decodeFrame('[1,2]'), /not an object/);
    assert.throws(() => decodeFrame('42'), /not an object/);
  });

  test('LineDecoder joins lines split across chunks, even inside a UTF-8 character', () => {
    const d = new LineDecoder();
    const bytes = new TextEncoder().encode('{"a":"é"}\n{"b":2}\n{"c"');
    assert.deepEqual(d.push(bytes.slice(0, 7)), []); // cuts "é" in half
    assert.deepEqual(d.push(bytes.slice(7)), ['{"a":"é"}', '{"b":2}']);
    assert.deepEqual(d.push(new TextEncoder().encode(':3}\n')), ['{"c":3}']);
  });

  test('LineDecoder holds a bounded unfinished line', () => {
    const d = new LineDecoder(10);
    assert.deepEqual(d.push('0123456789'), []);
    assert.throws(() => d.push('a'), /larger than 10/);
  });

  test('EventStreamDecoder: the hub\'s leading CRLF, data events, comments, CRLF and CR line ends', () => {
    const d = new EventStreamDecoder();
    assert.deepEqual(d.push('\r\n'), []);
    assert.deepEqual(d.push('data: {"id":1}\n\n: keep-alive\n\ndata: {"a":'), ['{"id":1}']);
    assert.deepEqual(d.push('1}\r'), []);
    assert.deepEqual(d.push('\n\r\ndata:x\rdata: y\r\r'), ['{"a":1}', 'x\ny']);
    assert.deepEqual(d.push('event: ignored\nid: 7\ndata: z\n\n'), ['z']);
  });

  test('EventStreamDecoder bounds one event\'s data', () => {
    const d = new EventStreamDecoder(8);
    assert.deepEqual(d.push('data: 1234\n'), []);
    assert.throws(() => d.push('data: 56789\n'), /larger than 8/);
  });
});

describe('StreamPosition: recovery bookkeeping', () => {
  test('before a recoverable subscribe there is nothing to recover', () => {
    const p = new StreamPosition();
    assert.deepEqual(p.subscribeFields(), {});
    assert.equal(p.admit(5), true);
  });

  test('since {offset, epoch} recovers from there; since {} asks for the latest', () => {
    assert.deepEqual(new StreamPosition({ offset: 7, epoch: 'ab' }).subscribeFields(), { recover: true, offset: 7, epoch: 'ab' });
    assert.deepEqual(new StreamPosition({}).subscribeFields(), { recover: true });
  });

  test('a recoverable subscribe, then publications, move the position; the next subscribe recovers from it', () => {
    const p = new StreamPosition();
    p.subscribed({ recoverable: true, epoch: 'E', offset: 3 });
    assert.equal(p.admit(4), true);
    assert.equal(p.admit(5), true);
    assert.deepEqual(p.subscribeFields(), { recover: true, offset: 5, epoch: 'E' });
  });

  test('a publication at or below the last delivered offset is dropped (no duplicate after recovery)', () => {
    const p = new StreamPosition();
    p.subscribed({ recoverable: true, epoch: 'E', offset: 10 });
    assert.equal(p.admit(9), false);
    assert.equal(p.admit(10), false);
    assert.equal(p.admit(11), true);
    assert.equal(p.admit(11), false);
    assert.equal(p.admit(undefined), true, 'publications without offset always pass');
  });

  test('a failed recovery (new epoch, top offset) restarts the position there', () => {
    const p = new StreamPosition();
    p.subscribed({ recoverable: true, epoch: 'E1', offset: 40 });
    p.subscribed({ recoverable: true, epoch: 'E2', offset: 2, recovered: false });
    assert.deepEqual(p.subscribeFields(), { recover: true, offset: 2, epoch: 'E2' });
    assert.equal(p.admit(3), true);
  });

  test('offset 0 of a fresh stream is a position too (epoch known)', () => {
    const p = new StreamPosition();
    p.subscribed({ recoverable: true, epoch: 'E' });
    assert.deepEqual(p.subscribeFields(), { recover: true, offset: 0, epoch: 'E' });
  });

  test('reset forgets the position', () => {
    const p = new StreamPosition({ offset: 1, epoch: 'x' });
    p.reset();
    assert.deepEqual(p.subscribeFields(), {});
  });
});

describe('endpoints', () => {
  const env = { WebSocket: function () {}, fetch: () => {}, EventSource: undefined };

  test('a ws:// URL of /connection/websocket and an http:// base name the same hub', () => {
    for (const url of ['ws://h:8/connection/websocket', 'http://h:8', 'http://h:8/', 'http://h:8/connection/sse']) {
      assert.equal(hubBase(url).toString(), 'http://h:8/', url);
    }
    assert.equal(hubBase('wss://h/prefix/connection/websocket').toString(), 'https://h/prefix');
    assert.throws(() => hubBase('ftp://h'), /unsupported URL scheme/);
  });

  test('endpoints under a base with or without a path prefix', () => {
    assert.equal(endpointUnder(hubBase('http://h:8/'), '/emulation'), 'http://h:8/emulation');
    assert.equal(endpointUnder(hubBase('ws://h:8/connection/websocket'), '/emulation'), 'http://h:8/emulation');
    assert.equal(endpointUnder(hubBase('https://h/hub/'), '/emulation'), 'https://h/hub/emulation');
    assert.equal(endpointUnder(hubBase('https://h/hub'), '/connection/websocket', true), 'wss://h/hub/connection/websocket');
  });

  test('the plan keeps the asked order, skips unknown names, maps schemes, takes explicit endpoints', () => {
    const plan = transportPlan(hubBase('https://h/p'), ['sse', 'nope', 'websocket', { transport: 'http_stream', endpoint: 'https://x/s' }], env);
    assert.deepEqual(
      plan.map((p) => [p.name, p.endpoint]),
      [
        ['sse', 'https://h/p/connection/sse'],
        ['websocket', 'wss://h/p/connection/websocket'],
        ['http_stream', 'https://x/s'],
      ],
    );
  });

  test('a transport the environment lacks is skipped', () => {
    const plan = transportPlan(hubBase('http://h'), ['websocket', 'http_stream'], { ...env, WebSocket: undefined });
    assert.deepEqual(plan.map((p) => p.name), ['http_stream']);
  });
});
