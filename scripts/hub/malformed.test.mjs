// Malformed input on raw WebSockets (the `ws` package, no SDK): bad JSON,
// an unknown method, wrong types, a frame over 64 KiB, commands before
// connect. Each gets the close code the brief names (3501 bad request; 1009
// for a message over the 64 KiB limit), and a centrifuge-js client connected
// at the same time is unaffected.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { channel, connected, record, Server, subscribed, until, userToken } from './harness.mjs';

/** A raw WebSocket to the hub that queues every text frame it receives. */
class Raw {
  static async open(server) {
    const ws = new WebSocket(server.wsUrl);
    const raw = new Raw(ws);
    await new Promise((ok, fail) => {
      ws.once('open', ok);
      ws.once('error', fail);
    });
    return raw;
  }

  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    this.closed = new Promise((ok) =>
      ws.once('close', (code, reason) => ok({ code, reason: reason.toString() })),
    );
    ws.on('message', (data) => {
      for (const line of data.toString().split('\n')) {
        if (line) this.frames.push(JSON.parse(line));
      }
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('error', () => {}); // the close event tells the tests what they need
  }

  send(text) {
    this.ws.send(text);
  }

  /** The reply with `id`, waiting up to `timeoutMs`. */
  async reply(id, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.frames.find((f) => f.id === id);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`no reply ${id} within ${timeoutMs} ms: ${JSON.stringify(this.frames)}`);
      await new Promise((ok) => {
        this.waiters.push(ok);
        setTimeout(ok, 50);
      });
    }
  }

  /** Resolves with `{code, reason}` once the server closes, or rejects after `timeoutMs`. */
  async closeWithin(timeoutMs = 5000) {
    let timer;
    const t = new Promise((_, fail) => {
      timer = setTimeout(() => fail(new Error(`not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens and connects with a token; the connect reply must be a success. */
  static async connected(server, user = 'raw') {
    const raw = await Raw.open(server);
    raw.send(JSON.stringify({ id: 1, connect: { token: userToken(user), name: 'raw' } }));
    const r = await raw.reply(1);
    assert.ok(r.connect?.client, `connect reply: ${JSON.stringify(r)}`);
    return raw;
  }

  end() {
    this.ws.terminate();
  }
}

describe('malformed input on a raw WebSocket', () => {
  let server;
  let bystander;
  let bystanderSub;
  let bystanderPubs;
  let bystanderTransitions;

  before(async () => {
    server = await Server.start();
    // An SDK client that stays connected through everything below.
    bystander = server.client({ token: userToken('bystander') });
    await connected(bystander);
    bystanderTransitions = record(bystander, 'connecting');
    bystanderSub = bystander.newSubscription(channel('chat', 'by'));
    bystanderPubs = record(bystanderSub, 'publication');
    await subscribed(bystanderSub);
  });
  after(async () => {
    bystander?.disconnect();
    await server?.stop();
  });

  /** The bystander still gets publications and never reconnected. */
  async function bystanderUnaffected() {
    const before = bystanderPubs.length;
    await server.publish(bystanderSub.channel, { check: before });
    await until(() => bystanderPubs.length === before + 1, { what: 'the bystander publication' });
    assert.equal(bystander.state, 'connected');
    assert.equal(bystanderSub.state, 'subscribed');
    assert.deepEqual(bystanderTransitions, [], 'the bystander never reconnected');
  }

  const cases = [
    ['bad JSON', 'this is not json'],
    ['truncated JSON', '{"id":2,"subscribe":{"channel":"a"'],
    ['a JSON array', '[1,2,3]'],
    ['an unknown method', '{"id":2,"no_such_method":{}}'],
    ['a command with an id and no method', '{"id":2}'],
    ['a channel that is a number', '{"id":2,"subscribe":{"channel":5}}'],
    ['an id that is a string', '{"id":"2","subscribe":{"channel":"chat:x"}}'],
    ['a negative id', '{"id":-1,"subscribe":{"channel":"chat:x"}}'],
    ['an id over uint32', '{"id":4294967296,"subscribe":{"channel":"chat:x"}}'],
    ['history limit as a string', '{"id":2,"history":{"channel":"chat:x","limit":"ten"}}'],
    ['a second connect', '{"id":2,"connect":{}}'],
  ];

  for (const [what, frame] of cases) {
    test(`${what} after connect: close 3501, others unaffected`, async () => {
      const raw = await Raw.connected(server);
      raw.send(frame);
      const { code, reason } = await raw.closeWithin();
      assert.equal(code, 3501, `${frame} → ${code} ${reason}`);
      assert.equal(reason, 'bad request');
      await bystanderUnaffected();
    });
  }

  test('commands before connect: close 3501', async () => {
    for (const frame of [
      '{"id":1,"subscribe":{"channel":"chat:x"}}',
      '{"id":1,"publish":{"channel":"chat:x","data":{}}}',
      '{"id":1,"presence":{"channel":"chat:x"}}',
      '{"id":1,"history":{"channel":"chat:x"}}',
    ]) {
      const raw = await Raw.open(server);
      raw.send(frame);
      const { code, reason } = await raw.closeWithin();
      assert.equal(code, 3501, `${frame} → ${code} ${reason}`);
      assert.deepEqual(raw.frames, [], 'no reply before the close');
    }
    await bystanderUnaffected();
  });

  test('bad JSON before connect: close 3501', async () => {
    const raw = await Raw.open(server);
    raw.send('{{{');
    assert.equal((await raw.closeWithin()).code, 3501);
    await bystanderUnaffected();
  });

  test('a connect without credentials: close 3501', async () => {
    const raw = await Raw.open(server);
    raw.send('{"id":1,"connect":{}}');
    assert.equal((await raw.closeWithin()).code, 3501);
  });

  test('an invalid token: close 3500', async () => {
    const raw = await Raw.open(server);
    raw.send(JSON.stringify({ id: 1, connect: { token: userToken('x') + 'tampered' } }));
    assert.equal((await raw.closeWithin()).code, 3500);
    await bystanderUnaffected();
  });

  test('a frame over 64 KiB: close 1009, others unaffected', async () => {
    const raw = await Raw.connected(server);
    const big = JSON.stringify({ id: 2, publish: { channel: 'chat:x', data: { pad: 'x'.repeat(70 * 1024) } } });
    assert.ok(big.length > 65536);
    raw.send(big);
    const { code, reason } = await raw.closeWithin();
    assert.equal(code, 1009, `${code} ${reason}`);
    await bystanderUnaffected();
  });

  test('a frame just under 64 KiB is accepted', async () => {
    const raw = await Raw.connected(server);
    const ch = channel('chat', 'big');
    raw.send(JSON.stringify({ id: 2, subscribe: { channel: ch } }));
    assert.ok((await raw.reply(2)).subscribe, 'subscribed');
    const pad = 'y'.repeat(60 * 1024);
    raw.send(JSON.stringify({ id: 3, publish: { channel: ch, data: { pad } } }));
    assert.deepEqual(await raw.reply(3), { id: 3, publish: {} });
    raw.end();
  });

  test('the connection survives what the protocol tolerates', async () => {
    const raw = await Raw.connected(server);
    const ch = channel('chat', 'ok');
    // Unknown fields are ignored (centrifuge-js 5.8 sends `flag`).
    raw.send(JSON.stringify({ id: 2, subscribe: { channel: ch, flag: 1, whatever: [1, 2] } }));
    const sub = await raw.reply(2);
    assert.ok(sub.subscribe, JSON.stringify(sub));
    // Errors that are replies, not closes.
    raw.send(JSON.stringify({ id: 3, subscribe: { channel: ch } }));
    assert.deepEqual((await raw.reply(3)).error?.code, 105, 'already subscribed');
    raw.send(JSON.stringify({ id: 4, subscribe: { channel: 'locked:x' } }));
    assert.equal((await raw.reply(4)).error?.code, 103);
    raw.send(JSON.stringify({ id: 5, subscribe: { channel: 'nosuchns:x' } }));
    assert.equal((await raw.reply(5)).error?.code, 102);
    raw.send(JSON.stringify({ id: 6, subscribe: { channel: 'a'.repeat(300) } }));
    assert.equal((await raw.reply(6)).error?.code, 107);
    raw.send(JSON.stringify({ id: 7, rpc: { method: 'nope', data: {} } }));
    assert.equal((await raw.reply(7)).error?.code, 104);
    // send is accepted and dropped (not 3508).
    raw.send(JSON.stringify({ send: { data: { a: 1 } } }));
    // Several commands in one frame, answered in order.
    raw.send(
      [
        JSON.stringify({ id: 8, publish: { channel: ch, data: { n: 1 } } }),
        JSON.stringify({ id: 9, presence_stats: { channel: ch } }),
      ].join('\n'),
    );
    assert.deepEqual(await raw.reply(8), { id: 8, publish: {} });
    assert.deepEqual(await raw.reply(9), { id: 9, presence_stats: { num_clients: 1, num_users: 1 } });
    const pub = raw.frames.find((f) => f.push?.pub);
    assert.deepEqual(pub.push.pub.data, { n: 1 });
    assert.equal(pub.push.channel, ch);
    // Still open.
    assert.equal(raw.ws.readyState, WebSocket.OPEN);
    raw.end();
    await bystanderUnaffected();
  });

  test('many bad connections at once leave the bystander alone', async () => {
    const raws = await Promise.all(Array.from({ length: 20 }, () => Raw.open(server)));
    raws.forEach((r, i) => r.send(i % 2 ? 'garbage' : '{"id":1,"subscribe":{"channel":"chat:x"}}'));
    const codes = await Promise.all(raws.map((r) => r.closeWithin().then((c) => c.code)));
    assert.deepEqual(new Set(codes), new Set([3501]));
    await bystanderUnaffected();
  });
});

test('an expired token in a raw connect: error 109, the socket stays open', async () => {
  const server = await Server.start();
  try {
    const raw = await Raw.open(server);
    raw.send(JSON.stringify({ id: 1, connect: { token: userToken('late', { ttl: -60 }) } }));
    const r = await raw.reply(1);
    assert.equal(r.error?.code, 109, JSON.stringify(r));
    raw.send(JSON.stringify({ id: 2, connect: { token: userToken('late') } }));
    assert.ok((await raw.reply(2)).connect?.client);
    raw.end();
  } finally {
    await server.stop();
  }
});
