// The client's state machine, batching, transport fallback, reconnects,
// recovery bookkeeping and token handling, driven through a scripted
// transport registered the way any transport plugs in (registerTransport):
// the test plays the server, frame by frame. No sockets, no clocks beyond
// the client's own (reconnect delays of a few milliseconds).

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Client, errorCodes, registerTransport } from '../pushwire.js';

/** A transport whose far end is the test. */
class Scripted {
  static supported() {
    return true;
  }

  constructor(endpoint) {
    this.name = 'scripted';
    this.emulation = false;
    this.endpoint = endpoint;
    /** Every frame the client sent, parsed into commands. */
    this.frames = [];
    this.closed = false;
    this.handlers = null;
    opened.push(this);
  }

  open(initial, handlers) {
    this.handlers = handlers;
    this.frames.push(initial.split('\n').map((l) => JSON.parse(l)));
  }

  send(text) {
    this.frames.push(text.split('\n').map((l) => JSON.parse(l)));
  }

  close() {
    this.closed = true;
    this.handlers = null;
  }

  /** Every command sent so far, in order. */
  get commands() {
    return this.frames.flat();
  }

  /** The server writes one frame of these replies/pushes. */
  deliver(...messages) {
    this.handlers.onMessage(messages.map((m) => JSON.stringify(m)).join('\n'));
  }

  /** Answers the connect command. */
  accept(result = {}) {
    const connect = this.commands.find((c) => c.connect);
    this.deliver({ id: connect.id, connect: { client: 'c1', version: 'test', ...result } });
  }

  /** The transport ends as the server or network ended it. */
  fail(code, reason = 'gone') {
    const h = this.handlers;
    this.handlers = null;
    this.closed = true;
    h.onClose({ code, reason });
  }
}

class ScriptedEmulated extends Scripted {
  constructor(endpoint) {
    super(endpoint);
    this.name = 'scripted_emulated';
    this.emulation = true;
    this.posts = [];
  }

  send(text, session, node) {
    this.posts.push({ session, node });
    super.send(text);
  }
}

let opened = [];
registerTransport('scripted', Scripted, { path: '/a' });
registerTransport('scripted_b', class extends Scripted {}, { path: '/b' });
registerTransport('scripted_emulated', ScriptedEmulated, { path: '/e' });

const clients = [];
function newClient(options = {}) {
  const c = new Client('http://hub.test', {
    transports: ['scripted'],
    minReconnectDelay: 1,
    maxReconnectDelay: 2,
    timeout: 2000,
    ...options,
  });
  clients.push(c);
  return c;
}

afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
  opened = [];
});

const tick = () => new Promise((r) => setImmediate(r));

/** The next `event` of `emitter` (rejects after 2 s, naming it). */
function next(emitter, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event}`)), 2000);
    emitter.once(event, (ctx) => {
      clearTimeout(timer);
      resolve(ctx);
    });
  });
}

/** Waits until `opened` has `n` transports. */
async function openedCount(n) {
  for (let i = 0; i < 200 && opened.length < n; i++) await tick();
  assert.equal(opened.length, n, `transports opened`);
  return opened[n - 1];
}

describe('state machine', () => {
  test('connect → connecting, connect reply → connected, disconnect → disconnected, each with a reason', async () => {
    const c = newClient({ token: 'T', name: 'app' });
    const states = [];
    c.on('state', (s) => states.push(`${s.oldState}>${s.newState}`));
    c.connect();
    assert.equal(c.state, 'connecting');
    const t = await openedCount(1);
    assert.deepEqual(t.frames[0][0].connect, { token: 'T', name: 'app' });
    const connected = next(c, 'connected');
    t.accept({ data: { hello: 1 } });
    const ctx = await connected;
    assert.deepEqual(ctx, { client: 'c1', transport: 'scripted', data: { hello: 1 } });
    assert.equal(c.state, 'connected');
    assert.equal(c.clientId, 'c1');
    const disconnected = next(c, 'disconnected');
    c.disconnect();
    assert.deepEqual(await disconnected, { code: 0, reason: 'disconnect called' });
    assert.equal(t.closed, true);
    assert.deepEqual(states, ['disconnected>connecting', 'connecting>connected', 'connected>disconnected']);
    assert.deepEqual(c.stateReason, { code: 0, reason: 'disconnect called' });
  });

  test('a reconnect code (3001 shutdown) reconnects; the connecting event carries the code', async () => {
    const c = newClient();
    c.connect();
    const t1 = await openedCount(1);
    t1.accept();
    const connecting = next(c, 'connecting');
    t1.fail(3001, 'shutdown');
    assert.deepEqual(await connecting, { code: 3001, reason: 'shutdown' });
    assert.equal(c.state, 'connecting');
    const t2 = await openedCount(2);
    const connected = next(c, 'connected');
    t2.accept();
    await connected;
  });

  test('a terminal code (3500 invalid token) stops: disconnected, nothing reopened', async () => {
    const c = newClient();
    c.connect();
    const t1 = await openedCount(1);
    t1.accept();
    const disconnected = next(c, 'disconnected');
    t1.fail(3500, 'invalid token');
    assert.deepEqual(await disconnected, { code: 3500, reason: 'invalid token' });
    for (let i = 0; i < 20; i++) await tick();
    assert.equal(opened.length, 1);
    assert.equal(c.state, 'disconnected');
  });

  test('a connect error that is not temporary (101) stops; a temporary one (100) retries', async () => {
    const c = newClient();
    c.connect();
    const t1 = await openedCount(1);
    const id1 = t1.commands[0].id;
    t1.deliver({ id: id1, error: { code: 100, message: 'internal', temporary: true } });
    const t2 = await openedCount(2);
    const disconnected = next(c, 'disconnected');
    t2.deliver({ id: t2.commands[0].id, error: { code: 101, message: 'unauthorized' } });
    assert.deepEqual(await disconnected, { code: 101, reason: 'unauthorized' });
  });

  test('a disconnect push (emulated transports) is handled like a close code', async () => {
    const c = newClient({ transports: ['scripted_emulated'] });
    c.connect();
    const t = await openedCount(1);
    t.accept({ session: 's', node: 'n' });
    const disconnected = next(c, 'disconnected');
    t.deliver({ push: { disconnect: { code: 3503, reason: 'force disconnect' } } });
    assert.deepEqual(await disconnected, { code: 3503, reason: 'force disconnect' });
  });
});

describe('transports', () => {
  test('a transport that fails before its connect reply gives way to the next at once; the one that worked is remembered', async () => {
    const c = newClient({ transports: ['scripted', 'scripted_b'] });
    c.connect();
    const a = await openedCount(1);
    assert.equal(a.endpoint, 'http://hub.test/a');
    a.fail(1006, 'blocked');
    const b = await openedCount(2);
    assert.equal(b.endpoint, 'http://hub.test/b');
    const connected = next(c, 'connected');
    b.accept();
    assert.equal((await connected).transport, 'scripted_b');
    b.fail(1006, 'network');
    const again = await openedCount(3);
    assert.equal(again.endpoint, 'http://hub.test/b', 'the reconnect starts with the transport that worked');
  });

  test('a transport with no connect reply within the timeout is closed and the next tried', async () => {
    const c = newClient({ transports: ['scripted', 'scripted_b'], timeout: 30 });
    c.connect();
    const a = await openedCount(1);
    const b = await new Promise((resolve) => {
      const poll = () => (opened.length >= 2 ? resolve(opened[1]) : setTimeout(poll, 5));
      poll();
    });
    assert.equal(a.closed, true);
    assert.equal(b.endpoint, 'http://hub.test/b');
  });

  test('commands an emulation request could not deliver (413) fail at once with a clear error; the connection stays', async () => {
    const c = newClient({ transports: ['scripted_emulated'] });
    c.connect();
    const t = await openedCount(1);
    t.accept({ session: 's', node: 'n' });
    await tick();
    const p = c.publish('big', { blob: 'x' });
    await tick();
    const [cmd] = t.frames[1];
    t.handlers.onRefused(JSON.stringify(cmd), 413);
    await assert.rejects(p, (e) => e.code === errorCodes.transportWriteError && e.message === 'publish: larger than the server takes (HTTP 413)');
    assert.equal(c.state, 'connected');
  });

  test('emulated transports: connect alone first, then the subscribes go with the session and node', async () => {
    const c = newClient({ transports: ['scripted_emulated'] });
    const sub = c.newSubscription('news');
    sub.subscribe();
    c.connect();
    const t = await openedCount(1);
    assert.equal(t.frames[0].length, 1);
    assert.ok(t.frames[0][0].connect);
    t.accept({ session: 'S1', node: 'N1' });
    await tick();
    assert.deepEqual(t.frames[1], [{ id: t.frames[1][0].id, subscribe: { channel: 'news' } }]);
    assert.deepEqual(t.posts, [{ session: 'S1', node: 'N1' }]);
  });
});

describe('commands', () => {
  test('over WebSocket the subscribes ride in the connect frame', async () => {
    const c = newClient();
    c.newSubscription('a').subscribe();
    c.newSubscription('b').subscribe();
    c.connect();
    const t = await openedCount(1);
    assert.deepEqual(
      t.frames[0].map((cmd) => Object.keys(cmd).filter((k) => k !== 'id')[0]),
      ['connect', 'subscribe', 'subscribe'],
    );
  });

  test('commands issued in one tick leave in one frame; replies resolve each by id', async () => {
    const c = newClient();
    c.connect();
    const t = await openedCount(1);
    t.accept();
    await tick();
    const p1 = c.publish('x', { n: 1 });
    const p2 = c.rpc('sum', [1, 2]);
    const p3 = c.presenceStats('x');
    await tick();
    assert.equal(t.frames.length, 2);
    const [pub, rpc, stats] = t.frames[1];
    assert.deepEqual(pub.publish, { channel: 'x', data: { n: 1 } });
    t.deliver({ id: stats.id, presence_stats: { num_clients: 2, num_users: 1 } }, { id: rpc.id, rpc: { data: 3 } }, { id: pub.id, publish: {} });
    assert.deepEqual(await p1, {});
    assert.deepEqual(await p2, { data: 3 });
    assert.deepEqual(await p3, { numClients: 2, numUsers: 1 });
  });

  test('a tick\'s commands beyond maxBatchBytes leave in several frames; subscribes that do not fit the connect frame follow the connect reply', async () => {
    const c = newClient({ maxBatchBytes: 200 });
    for (let i = 0; i < 6; i++) c.newSubscription(`channel-${i}`).subscribe();
    c.connect();
    const t = await openedCount(1);
    const first = t.frames[0];
    assert.ok(Buffer.byteLength(first.map((x) => JSON.stringify(x)).join('\n')) <= 200);
    assert.ok(first.length >= 2 && first.length < 7, `${first.length} commands in the connect frame`);
    t.accept();
    await tick();
    const channels = t.frames.flat().filter((x) => x.subscribe).map((x) => x.subscribe.channel);
    assert.deepEqual(channels, [0, 1, 2, 3, 4, 5].map((i) => `channel-${i}`), 'every subscribe, once, in order');
    const before = t.frames.length;
    for (let i = 0; i < 10; i++) c.publish('p', { i }).catch(() => {});
    await tick();
    const frames = t.frames.slice(before);
    assert.ok(frames.length > 1, 'split');
    assert.deepEqual(frames.flat().map((x) => x.publish.data.i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const f of frames) assert.ok(Buffer.byteLength(f.map((x) => JSON.stringify(x)).join('\n')) <= 200);
  });

  test('an error reply rejects with its code and message', async () => {
    const c = newClient();
    c.connect();
    const t = await openedCount(1);
    t.accept();
    await tick();
    const p = c.rpc('nope', {});
    await tick();
    t.deliver({ id: t.frames[1][0].id, error: { code: 104, message: 'method not found' } });
    await assert.rejects(p, (e) => e.code === 104 && e.message === 'method not found' && e.temporary === false);
  });

  test('a command without a reply times out with a clear error', async () => {
    const c = newClient({ timeout: 20 });
    c.connect();
    const t = await openedCount(1);
    t.accept();
    await assert.rejects(c.publish('x', 1), (e) => e.code === errorCodes.timeout && e.message === 'publish timed out after 20 ms');
  });

  test('a command while disconnected fails at once', async () => {
    const c = newClient();
    await assert.rejects(c.publish('x', 1), (e) => e.code === errorCodes.clientDisconnected);
  });

  test('pending commands fail when the transport closes', async () => {
    const c = newClient();
    c.connect();
    const t = await openedCount(1);
    t.accept();
    const p = c.history('x', { limit: 5 });
    await tick();
    t.fail(1006, 'network');
    await assert.rejects(p, (e) => e.code === errorCodes.transportClosed);
  });

  test('silence longer than the ping interval plus maxServerPingDelay reconnects (no ping)', async () => {
    const c = newClient({ maxServerPingDelay: 5 });
    c.connect();
    const t = await openedCount(1);
    const connecting = next(c, 'connecting');
    t.accept({ ping: 0.005 });
    assert.deepEqual(await connecting, { code: 2, reason: 'no ping' });
    assert.equal(t.closed, true);
    await openedCount(2);
  });

  test('a server ping is answered with a pong when the server asked for pongs', async () => {
    const c = newClient();
    c.connect();
    const t = await openedCount(1);
    t.accept({ ping: 25, pong: true });
    t.deliver({});
    await tick();
    assert.deepEqual(t.frames[1], [{}]);
  });
});

describe('subscriptions and recovery', () => {
  async function subscribedClient(channel = 'chat:1', result = { recoverable: true, epoch: 'E', offset: 4 }) {
    const c = newClient();
    const sub = c.newSubscription(channel);
    sub.subscribe();
    c.connect();
    const t = await openedCount(1);
    const id = t.frames[0][1].id;
    const subscribed = next(sub, 'subscribed');
    t.accept();
    t.deliver({ id, subscribe: result });
    await subscribed;
    return { c, sub, t };
  }

  test('publications pass in order; a duplicate offset is dropped', async () => {
    const { sub, t } = await subscribedClient();
    const got = [];
    sub.on('publication', (p) => got.push(p.offset));
    t.deliver(
      { push: { channel: 'chat:1', pub: { data: 'a', offset: 5 } } },
      { push: { channel: 'chat:1', pub: { data: 'b', offset: 6 } } },
      { push: { channel: 'chat:1', pub: { data: 'b', offset: 6 } } },
    );
    assert.deepEqual(got, [5, 6]);
    assert.deepEqual(sub.streamPosition, { offset: 6, epoch: 'E' });
  });

  test('after a reconnect the subscribe recovers from the last offset; recovered publications are delivered', async () => {
    const { sub, t } = await subscribedClient();
    t.deliver({ push: { channel: 'chat:1', pub: { data: 'a', offset: 5 } } });
    const subscribing = next(sub, 'subscribing');
    t.fail(1012, 'restart');
    assert.deepEqual(await subscribing, { channel: 'chat:1', code: 1, reason: 'transport closed' });
    const t2 = await openedCount(2);
    const resub = t2.frames[0][1];
    assert.deepEqual(resub.subscribe, { channel: 'chat:1', recover: true, offset: 5, epoch: 'E' });
    const got = [];
    sub.on('publication', (p) => got.push(p.data));
    const subscribed = next(sub, 'subscribed');
    t2.accept();
    t2.deliver({
      id: resub.id,
      subscribe: {
        recoverable: true, epoch: 'E', offset: 5, was_recovering: true, recovered: true,
        publications: [{ data: 'b', offset: 6 }, { data: 'c', offset: 7 }],
      },
    });
    const ctx = await subscribed;
    assert.equal(ctx.wasRecovering, true);
    assert.equal(ctx.recovered, true);
    assert.deepEqual(got, ['b', 'c']);
    assert.deepEqual(sub.streamPosition, { offset: 7, epoch: 'E' });
  });

  test('a failed recovery is said: subscribed with recovered false, and a recoveryFailed event', async () => {
    const { sub, t } = await subscribedClient();
    t.fail(1006, 'network');
    const t2 = await openedCount(2);
    const resub = t2.frames[0][1];
    const failed = next(sub, 'recoveryFailed');
    t2.accept();
    t2.deliver({ id: resub.id, subscribe: { recoverable: true, epoch: 'F', offset: 90, was_recovering: true } });
    assert.deepEqual(await failed, { channel: 'chat:1', streamPosition: { offset: 90, epoch: 'F' } });
    assert.equal(sub.state, 'subscribed');
  });

  test('a permission error (103) unsubscribes for good; a temporary one resubscribes', async () => {
    const c = newClient();
    const denied = c.newSubscription('locked:x');
    const busy = c.newSubscription('busy');
    denied.subscribe();
    busy.subscribe();
    c.connect();
    const t = await openedCount(1);
    const [, s1, s2] = t.frames[0];
    const unsubscribed = next(denied, 'unsubscribed');
    const errors = [];
    denied.on('error', (e) => errors.push(e.error.code));
    t.accept();
    t.deliver({ id: s1.id, error: { code: 103, message: 'permission denied' } }, { id: s2.id, error: { code: 111, message: 'too many requests', temporary: true } });
    assert.deepEqual(await unsubscribed, { channel: 'locked:x', code: 103, reason: 'permission denied' });
    assert.deepEqual(errors, [103]);
    // The temporary error: a new subscribe for `busy` after the backoff; none for `locked:x`.
    for (let i = 0; i < 200 && t.frames.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(t.frames.slice(1).flat().map((cmd) => cmd.subscribe?.channel), ['busy']);
  });

  test('the server unsubscribing (2000) ends the subscription; insufficient state (2500) resubscribes with recovery', async () => {
    const { sub, t } = await subscribedClient();
    const subscribing = next(sub, 'subscribing');
    t.deliver({ push: { channel: 'chat:1', unsubscribe: { code: 2500, reason: 'insufficient state' } } });
    await subscribing;
    for (let i = 0; i < 200 && t.frames.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    const resub = t.frames[1][0];
    assert.deepEqual(resub.subscribe, { channel: 'chat:1', recover: true, offset: 4, epoch: 'E' });
    t.deliver({ id: resub.id, subscribe: { recoverable: true, epoch: 'E', offset: 4, was_recovering: true, recovered: true } });
    const unsubscribed = next(sub, 'unsubscribed');
    t.deliver({ push: { channel: 'chat:1', unsubscribe: { code: 2000, reason: 'server unsubscribe' } } });
    assert.deepEqual(await unsubscribed, { channel: 'chat:1', code: 2000, reason: 'server unsubscribe' });
  });

  test('unsubscribe tells the server and stops publications', async () => {
    const { sub, t } = await subscribedClient();
    const got = [];
    sub.on('publication', (p) => got.push(p));
    sub.unsubscribe();
    await tick();
    assert.deepEqual(t.frames[1].map((c) => c.unsubscribe), [{ channel: 'chat:1' }]);
    t.deliver({ push: { channel: 'chat:1', pub: { data: 'late', offset: 9 } } });
    assert.deepEqual(got, []);
  });

  test('server-side subscriptions (connect reply subs) deliver on the client and recover through connect', async () => {
    const c = newClient();
    c.connect();
    const t = await openedCount(1);
    const pubs = [];
    c.on('publication', (p) => pubs.push(p));
    const subscribed = next(c, 'subscribed');
    t.accept({ subs: { '#42': { recoverable: true, epoch: 'P', offset: 1 } } });
    assert.equal((await subscribed).channel, '#42');
    t.deliver({ push: { channel: '#42', pub: { data: 'x', offset: 2 } } });
    assert.deepEqual(pubs.map((p) => [p.channel, p.data]), [['#42', 'x']]);
    t.fail(1006, 'network');
    const t2 = await openedCount(2);
    assert.deepEqual(t2.frames[0][0].connect.subs, { '#42': { recover: true, offset: 2, epoch: 'P' } });
  });
});

describe('tokens', () => {
  test('getToken supplies the token when none is given', async () => {
    let calls = 0;
    const c = newClient({ getToken: async () => `tok${++calls}` });
    c.connect();
    const t = await openedCount(1);
    assert.equal(t.frames[0][0].connect.token, 'tok1');
  });

  test('an expired token (109) is replaced through getToken and the client reconnects', async () => {
    let calls = 0;
    const c = newClient({ token: 'old', getToken: async () => `fresh${++calls}` });
    c.connect();
    const t1 = await openedCount(1);
    assert.equal(t1.frames[0][0].connect.token, 'old');
    t1.deliver({ id: t1.frames[0][0].id, error: { code: 109, message: 'token expired' } });
    const t2 = await openedCount(2);
    assert.equal(t2.frames[0][0].connect.token, 'fresh1');
  });

  test('109 without getToken stops with unauthorized', async () => {
    const c = newClient({ token: 'old' });
    c.connect();
    const t1 = await openedCount(1);
    const disconnected = next(c, 'disconnected');
    t1.deliver({ id: t1.frames[0][0].id, error: { code: 109, message: 'token expired' } });
    assert.equal((await disconnected).code, 1);
  });

  test('expires with ttl: the client refreshes the token before the server would close', async () => {
    let calls = 0;
    const c = newClient({ token: 'first', getToken: async () => `next${++calls}` });
    c.connect();
    const t = await openedCount(1);
    t.accept({ expires: true, ttl: 0 });
    for (let i = 0; i < 200 && t.frames.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    const [refresh] = t.frames[1];
    assert.deepEqual(refresh.refresh, { token: 'next1' });
    t.deliver({ id: refresh.id, refresh: { client: 'c1', expires: true, ttl: 3600 } });
    await tick();
    assert.equal(c.state, 'connected');
  });

  test('a subscription token with a ttl is refreshed with sub_refresh through the subscription\'s getToken', async () => {
    const asked = [];
    const c = newClient();
    const sub = c.newSubscription('$private', {
      getToken: async ({ channel }) => {
        asked.push(channel);
        return `sub-token-${asked.length}`;
      },
    });
    sub.subscribe();
    c.connect();
    const t = await openedCount(1);
    t.accept();
    for (let i = 0; i < 200 && t.frames.length < 2; i++) await tick();
    const [subscribe] = t.frames[1];
    assert.deepEqual(subscribe.subscribe, { channel: '$private', token: 'sub-token-1' });
    t.deliver({ id: subscribe.id, subscribe: { expires: true, ttl: 0 } });
    for (let i = 0; i < 200 && t.frames.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    const [refresh] = t.frames[2];
    assert.deepEqual(refresh.sub_refresh, { channel: '$private', token: 'sub-token-2' });
    assert.deepEqual(asked, ['$private', '$private']);
    t.deliver({ id: refresh.id, sub_refresh: { expires: true, ttl: 3600 } });
    await tick();
    assert.equal(sub.state, 'subscribed');
  });

  test('an empty token from getToken means unauthorized: the client stops', async () => {
    const c = newClient({ getToken: async () => '' });
    const disconnected = next(c, 'disconnected');
    c.connect();
    assert.deepEqual(await disconnected, { code: 1, reason: 'unauthorized' });
  });
});

describe('the browser\'s network events', () => {
  test('offline drops the connection at once; online reconnects without waiting for the backoff', async () => {
    const target = new EventTarget();
    globalThis.addEventListener = target.addEventListener.bind(target);
    globalThis.removeEventListener = target.removeEventListener.bind(target);
    try {
      const c = newClient({ minReconnectDelay: 60000, maxReconnectDelay: 60000 });
      c.connect();
      const t1 = await openedCount(1);
      t1.accept();
      const connecting = next(c, 'connecting');
      target.dispatchEvent(new Event('offline'));
      assert.deepEqual(await connecting, { code: 1, reason: 'offline' });
      assert.equal(t1.closed, true);
      // A minute of backoff, cut short by the network coming back.
      target.dispatchEvent(new Event('online'));
      const t2 = await openedCount(2);
      const connected = next(c, 'connected');
      t2.accept();
      await connected;
      c.disconnect();
      target.dispatchEvent(new Event('offline'));
      assert.equal(c.state, 'disconnected', 'a stopped client no longer listens');
    } finally {
      delete globalThis.addEventListener;
      delete globalThis.removeEventListener;
    }
  });
});
