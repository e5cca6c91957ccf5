// pushwire.js (clients/js, the hub's own client) in Node against a real
// `pushwire serve`: connect with a token, subscribe, publications made
// through the server API, presence, history, recovery after missed
// publications, a forbidden channel that stops retrying, and tokens that
// expire. WebSocket is the `ws` package (Node 20 has no global one); the
// HTTP streaming, SSE and long-polling transports use Node's fetch, and
// their tests skip while the server answers 404 on their endpoints. Long
// polling also loses poll responses on the way (a fetch that drops them
// after the server sent them): nothing is lost or duplicated.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Client, PushwireError } from '../../clients/js/pushwire.js';
import { baseConfig, channel, freePort, record, Server, sleep, subToken, until, userToken } from './harness.mjs';

/** A pushwire.js client for `server`, on `transports`, with quick reconnects. */
function client(server, options = {}) {
  return new Client(server.origin, {
    websocket: WebSocket,
    minReconnectDelay: 50,
    maxReconnectDelay: 300,
    timeout: 3000,
    ...options,
  });
}

/** Resolves with the next `event` of `emitter` that passes `filter`. */
function next(emitter, event, { filter = () => true, timeoutMs = 5000 } = {}) {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      fail(new Error(`no "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    function on(ctx) {
      if (!filter(ctx)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      ok(ctx);
    }
    emitter.on(event, on);
  });
}

/** Connects `c` and resolves with its `connected` context. */
async function connect(c) {
  const done = next(c, 'connected');
  c.connect();
  return done;
}

/** Subscribes `sub` and resolves with its `subscribed` context. */
async function subscribe(sub) {
  const done = next(sub, 'subscribed');
  sub.subscribe();
  return done;
}

/** Whether the server serves `path` (the emulation transports are built later). */
async function serves(server, path) {
  const res = await fetch(server.origin + path, { method: 'POST', body: '{}' });
  await res.body?.cancel();
  return res.status !== 404;
}

const TRANSPORTS = ['websocket', 'http_stream', 'sse', 'long_polling'];
const PATHS = {
  websocket: '/connection/websocket',
  http_stream: '/connection/http_stream',
  sse: '/connection/sse',
  long_polling: '/connection/long_poll',
};

describe('pushwire.js against pushwire serve', () => {
  let server;
  const available = {};
  before(async () => {
    server = await Server.start();
    for (const t of TRANSPORTS) available[t] = t === 'websocket' || (await serves(server, PATHS[t]));
  });
  after(async () => {
    await server?.stop();
  });

  for (const transport of TRANSPORTS) {
    describe(`over ${transport}`, () => {
      const skip = () => (available[transport] ? false : `the server answers 404 on ${PATHS[transport]}`);

      test('connects with a token, subscribes, receives what the server API publishes', async (t) => {
        if (skip()) return t.skip(skip());
        const c = client(server, { token: userToken('alice'), transports: [transport] });
        try {
          const ctx = await connect(c);
          assert.equal(ctx.transport, transport);
          assert.equal(c.state, 'connected');
          const ch = channel('chat', 'pub');
          const sub = c.newSubscription(ch);
          const subscribed = await subscribe(sub);
          assert.equal(subscribed.recoverable, true);
          const got = next(sub, 'publication');
          await server.publish(ch, { text: 'hello' });
          const pub = await got;
          assert.deepEqual(pub.data, { text: 'hello' });
          assert.equal(pub.channel, ch);
          assert.equal(pub.offset, 1);
        } finally {
          c.disconnect();
        }
      });

      test('publish, presence, presence stats and history from the client', async (t) => {
        if (skip()) return t.skip(skip());
        const ch = channel('chat', 'room');
        const a = client(server, { token: userToken('ann'), transports: [transport] });
        const b = client(server, { token: userToken('bob'), transports: [transport] });
        try {
          await Promise.all([connect(a), connect(b)]);
          const subA = a.newSubscription(ch);
          const subB = b.newSubscription(ch);
          await subscribe(subA);
          const joined = next(subA, 'join', { filter: (j) => j.info.user === 'bob' });
          await subscribe(subB);
          assert.equal((await joined).info.client, b.clientId);

          const presence = await subA.presence();
          assert.deepEqual(Object.values(presence.clients).map((i) => i.user).sort(), ['ann', 'bob']);
          assert.deepEqual(await subB.presenceStats(), { numClients: 2, numUsers: 2 });

          const seen = next(subB, 'publication');
          assert.deepEqual(await subA.publish({ text: 'from ann' }), {});
          const pub = await seen;
          assert.deepEqual(pub.data, { text: 'from ann' });
          assert.equal(pub.info.user, 'ann');
          await subA.publish({ text: 'second' });

          const history = await subB.history({ limit: 10 });
          assert.deepEqual(history.publications.map((p) => p.data.text), ['from ann', 'second']);
          assert.deepEqual(history.publications.map((p) => p.offset), [1, 2]);
          assert.equal(history.offset, 2);
          assert.ok(history.epoch);
          const last = await subB.history({ limit: 1, reverse: true });
          assert.deepEqual(last.publications.map((p) => p.data.text), ['second']);

          const left = next(subA, 'leave', { filter: (l) => l.info.user === 'bob' });
          subB.unsubscribe();
          await left;
        } finally {
          a.disconnect();
          b.disconnect();
        }
      });

      test('100 publications of 1 KB issued in one tick go out batched under the hub\'s 64 KiB limit and arrive in order', async (t) => {
        if (skip()) return t.skip(skip());
        const ch = channel('chat', 'burst');
        const c = client(server, { token: userToken('burst'), transports: [transport] });
        try {
          await connect(c);
          const sub = c.newSubscription(ch);
          const pubs = record(sub, 'publication');
          await subscribe(sub);
          const pad = 'x'.repeat(1000);
          const results = await Promise.all(Array.from({ length: 100 }, (_, n) => sub.publish({ n, pad })));
          assert.equal(results.length, 100);
          await until(() => pubs.length >= 100, { what: `100 publications (have ${pubs.length})` });
          assert.deepEqual(pubs.map((p) => p.data.n), Array.from({ length: 100 }, (_, n) => n));
          assert.equal(c.state, 'connected');
        } finally {
          c.disconnect();
        }
      });

      test('a publication over the hub\'s 64 KiB limit gets a clear answer', async (t) => {
        if (skip()) return t.skip(skip());
        const c = client(server, { token: userToken('huge'), transports: [transport] });
        try {
          await connect(c);
          const sub = c.newSubscription(channel('chat', 'huge'));
          await subscribe(sub);
          const huge = sub.publish({ blob: 'x'.repeat(70 * 1024) });
          if (transport === 'websocket') {
            // The server closes the WebSocket (1009): the client stops, saying why.
            const gone = next(c, 'disconnected');
            await assert.rejects(huge, (e) => e.code === 2 && /message exceeds/.test(e.message));
            const ctx = await gone;
            assert.equal(ctx.code, 3, 'message size limit');
            assert.ok(ctx.reason, 'with the reason the server gave');
          } else {
            // /emulation answers 413: that command fails, the connection stays.
            await assert.rejects(huge, (e) => e.code === 10 && e.message === 'publish: larger than the server takes (HTTP 413)');
            assert.equal(c.state, 'connected');
            assert.deepEqual(await sub.publish({ ok: true }), {});
          }
        } finally {
          c.disconnect();
        }
      });

      test('20 publications missed while disconnected are recovered: recovered true, each once, in order', async (t) => {
        if (skip()) return t.skip(skip());
        const ch = channel('chat', 'recover');
        const c = client(server, { token: userToken('rec'), transports: [transport] });
        try {
          await connect(c);
          const sub = c.newSubscription(ch);
          const pubs = record(sub, 'publication');
          await subscribe(sub);
          await server.publish(ch, { n: 0 });
          await until(() => pubs.length === 1, { what: 'the first publication' });

          const gone = next(c, 'disconnected');
          c.disconnect();
          await gone;
          for (let n = 1; n <= 20; n++) await server.publish(ch, { n });
          const back = next(sub, 'subscribed');
          c.connect();
          const ctx = await back;
          assert.equal(ctx.wasRecovering, true);
          assert.equal(ctx.recovered, true);
          await until(() => pubs.length >= 21, { what: `21 publications (have ${pubs.length})` });
          await server.publish(ch, { n: 21 });
          await until(() => pubs.length >= 22, { what: 'the live publication after recovery' });
          assert.deepEqual(pubs.map((p) => p.data.n), Array.from({ length: 22 }, (_, i) => i));
          assert.deepEqual(pubs.map((p) => p.offset), Array.from({ length: 22 }, (_, i) => i + 1));
        } finally {
          c.disconnect();
        }
      });
    });
  }

  test('long polling: poll responses lost on the way are delivered again, each publication once, in order', async (t) => {
    if (!available.long_polling) return t.skip(`the server answers 404 on ${PATHS.long_polling}`);
    const ch = channel('chat', 'lossy');
    // Every third poll's response is thrown away after the server sent it,
    // as when a connection drops under a response.
    let polls = 0;
    let lost = 0;
    const lossy = async (url, init) => {
      const res = await fetch(url, init);
      if (!new URL(url).searchParams.has('ack')) return res;
      polls += 1;
      if (polls % 3 !== 0) return res;
      const body = await res.text();
      if (body === '') return new Response('', { status: 200 });
      lost += 1;
      throw new TypeError('the connection dropped');
    };
    const c = client(server, { token: userToken('lossy'), transports: ['long_polling'], fetch: lossy });
    try {
      await connect(c);
      const sub = c.newSubscription(ch);
      const pubs = record(sub, 'publication');
      await subscribe(sub);
      for (let n = 1; n <= 30; n++) {
        await server.publish(ch, { n });
        if (n % 5 === 0) await until(() => pubs.length >= n, { what: `${n} publications (have ${pubs.length})` });
      }
      await until(() => pubs.length >= 30, { what: `30 publications (have ${pubs.length})` });
      assert.ok(lost >= 3, `responses lost: ${lost}`);
      assert.deepEqual(pubs.map((p) => p.data.n), Array.from({ length: 30 }, (_, i) => i + 1));
      assert.deepEqual(pubs.map((p) => p.offset), Array.from({ length: 30 }, (_, i) => i + 1));
      assert.equal(c.state, 'connected', 'no reconnect was needed');
    } finally {
      c.disconnect();
    }
  });

  test('a connection the server drops (disconnect API, reconnect advised) comes back on its own and recovers', async () => {
    const ch = channel('chat', 'drop');
    const c = client(server, { token: userToken('dropped') });
    try {
      await connect(c);
      const sub = c.newSubscription(ch);
      const pubs = record(sub, 'publication');
      const subscribedEvents = record(sub, 'subscribed');
      await subscribe(sub);
      const connecting = next(c, 'connecting');
      await server.call('disconnect', { user: 'dropped', disconnect: { code: 3011, reason: 'force reconnect' } });
      assert.deepEqual(await connecting, { code: 3011, reason: 'force reconnect' });
      for (let n = 1; n <= 20; n++) await server.publish(ch, { n });
      await until(() => pubs.length >= 20, { what: `20 publications (have ${pubs.length})` });
      assert.deepEqual(pubs.map((p) => p.data.n), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.equal(c.state, 'connected');
      assert.equal(subscribedEvents.length, 2);
      assert.equal(subscribedEvents[1].recovered, true);
    } finally {
      c.disconnect();
    }
  });

  test('a terminal disconnect (3503 force disconnect) stops the client', async () => {
    const c = client(server, { token: userToken('kicked') });
    try {
      await connect(c);
      const gone = next(c, 'disconnected');
      await server.call('disconnect', { user: 'kicked', disconnect: { code: 3503, reason: 'force disconnect' } });
      assert.deepEqual(await gone, { code: 3503, reason: 'force disconnect' });
      assert.equal(c.state, 'disconnected');
    } finally {
      c.disconnect();
    }
  });

  test('a forbidden channel (103) ends its subscription and is not retried; the connection stays', async () => {
    const c = client(server, { token: userToken('mallory') });
    try {
      await connect(c);
      const sub = c.newSubscription(channel('locked', 'secret'), { minResubscribeDelay: 20, maxResubscribeDelay: 40 });
      const subscribing = record(sub, 'subscribing');
      const errors = record(sub, 'error');
      const unsubscribed = next(sub, 'unsubscribed');
      sub.subscribe();
      const ctx = await unsubscribed;
      assert.equal(ctx.code, 103);
      assert.equal(errors.length, 1);
      assert.equal(errors[0].error.code, 103);
      assert.ok(errors[0].error instanceof PushwireError);
      // Were it retried, a new attempt would start within 40 ms.
      await sleep(400);
      assert.equal(subscribing.length, 1);
      assert.equal(sub.state, 'unsubscribed');
      assert.equal(c.state, 'connected');
      await assert.rejects(sub.publish({}), /not subscribed/);
    } finally {
      c.disconnect();
    }
  });

  test('a subscription token: subscribes to a channel that needs one', async () => {
    const ch = channel('locked', 'granted');
    const c = client(server, { token: userToken('trusted') });
    try {
      await connect(c);
      const sub = c.newSubscription(ch, { getToken: async ({ channel: name }) => subToken('trusted', name) });
      await subscribe(sub);
      assert.equal(sub.state, 'subscribed');
    } finally {
      c.disconnect();
    }
  });

  test('an expired token is replaced through getToken (109), then the client connects', async () => {
    let asked = 0;
    const c = client(server, {
      token: userToken('late', { ttl: -10 }),
      getToken: async () => {
        asked += 1;
        return userToken('late');
      },
    });
    const errors = record(c, 'error');
    try {
      await connect(c);
      assert.equal(asked, 1);
      assert.equal(errors[0].type, 'connect');
      assert.equal(errors[0].error.code, 109);
    } finally {
      c.disconnect();
    }
  });

  test('no server answers: the client keeps connecting, then connects when one starts on the port', async () => {
    const port = await freePort();
    const c = new Client(`http://127.0.0.1:${port}`, {
      websocket: WebSocket,
      token: userToken('patient'),
      minReconnectDelay: 50,
      maxReconnectDelay: 200,
    });
    let late;
    try {
      c.connect();
      await sleep(300);
      assert.equal(c.state, 'connecting');
      const done = next(c, 'connected', { timeoutMs: 15000 });
      late = await Server.start({ port });
      await done;
    } finally {
      c.disconnect();
      await late?.stop();
    }
  });
});

test('pushwire.js across a server restart (SIGHUP): reconnects by itself; the new epoch is said with recoveryFailed, never a silent gap', async () => {
  const config = baseConfig();
  let server = await Server.start({ config });
  const port = server.port;
  const ch = channel('chat', 'restart');
  const c = client(server, { token: userToken('restart') });
  try {
    await connect(c);
    const sub = c.newSubscription(ch);
    const pubs = record(sub, 'publication');
    const first = await subscribe(sub);
    await server.publish(ch, { n: 1 });
    await until(() => pubs.length === 1, { what: 'the first publication' });

    const connecting = next(c, 'connecting');
    const failed = next(sub, 'recoveryFailed', { timeoutMs: 15000 });
    const again = next(sub, 'subscribed', { timeoutMs: 15000 });
    server.child.kill('SIGHUP');
    // The hub says shutdown (3001) or service restart (1012): both mean reconnect.
    assert.ok([1012, 3001].includes((await connecting).code));
    await server.exited;
    await server.stop();
    server = await Server.start({ config, port });
    const s = await again;
    assert.equal(s.wasRecovering, true);
    assert.equal(s.recovered, false);
    assert.notEqual(s.streamPosition.epoch, first.streamPosition.epoch);
    assert.deepEqual((await failed).streamPosition, s.streamPosition);
    // Live again on the new stream.
    await server.publish(ch, { n: 'after' });
    await until(() => pubs.length === 2, { what: 'a publication after the restart' });
    assert.deepEqual(pubs.map((p) => p.data.n), [1, 'after']);
  } finally {
    c.disconnect();
    await server.stop();
  }
});

describe('pushwire.js falls back when WebSocket does not work', () => {
  let server;
  let blackhole;
  let blackholed = 0;
  let httpStream = false;
  let sse = false;
  before(async () => {
    server = await Server.start();
    httpStream = await serves(server, PATHS.http_stream);
    sse = await serves(server, PATHS.sse);
    // Accepts TCP connections and never answers: a proxy that swallows the upgrade.
    blackhole = net.createServer((socket) => {
      blackholed += 1;
      socket.on('error', () => {});
    });
    await new Promise((ok) => blackhole.listen(0, '127.0.0.1', ok));
  });
  after(async () => {
    blackhole?.close();
    await server?.stop();
  });
  const skip = () => (httpStream ? false : `the server answers 404 on ${PATHS.http_stream}`);

  test('no WebSocket in the environment: HTTP streaming', async (t) => {
    if (skip()) return t.skip(skip());
    const c = client(server, { token: userToken('nows'), websocket: false });
    try {
      assert.equal((await connect(c)).transport, 'http_stream');
    } finally {
      c.disconnect();
    }
  });

  test('WebSocket refused and HTTP streaming answered 404 by a proxy: SSE', async (t) => {
    if (!sse) return t.skip(`the server answers 404 on ${PATHS.sse}`);
    const closed = await freePort();
    const c = client(server, {
      token: userToken('sse-only'),
      transports: [
        { transport: 'websocket', endpoint: `ws://127.0.0.1:${closed}/connection/websocket` },
        { transport: 'http_stream', endpoint: `${server.origin}/blocked/http_stream` },
        'sse',
      ],
    });
    try {
      assert.equal((await connect(c)).transport, 'sse');
      const ch = channel('chat', 'viasse');
      const sub = c.newSubscription(ch);
      await subscribe(sub);
      const got = next(sub, 'publication');
      await server.publish(ch, { via: 'sse' });
      assert.deepEqual((await got).data, { via: 'sse' });
    } finally {
      c.disconnect();
    }
  });

  test('a WebSocket that never opens: HTTP streaming after the timeout, and kept for the reconnect', async (t) => {
    if (skip()) return t.skip(skip());
    const ws = `ws://127.0.0.1:${blackhole.address().port}/connection/websocket`;
    const c = client(server, {
      token: userToken('proxied'),
      timeout: 500,
      transports: [{ transport: 'websocket', endpoint: ws }, 'http_stream', 'sse'],
    });
    try {
      assert.equal((await connect(c)).transport, 'http_stream');
      assert.equal(blackholed, 1);
      const back = next(c, 'connected', { timeoutMs: 5000 });
      await server.call('disconnect', { user: 'proxied', disconnect: { code: 3011, reason: 'force reconnect' } });
      assert.equal((await back).transport, 'http_stream');
      assert.equal(blackholed, 1, 'the reconnect went straight to the transport that worked');
    } finally {
      c.disconnect();
    }
  });
});

describe('token refresh before expiry', () => {
  let server;
  before(async () => {
    const config = baseConfig();
    config.client.expired_close_delay = '1s';
    server = await Server.start({ config });
  });
  after(async () => {
    await server?.stop();
  });

  test('a client with getToken refreshes at ttl and keeps its connection; one without is closed after expiry', async () => {
    let asked = 0;
    const refreshing = client(server, {
      token: userToken('r1', { ttl: 2 }),
      getToken: async () => {
        asked += 1;
        return userToken('r1', { ttl: 3600 });
      },
    });
    const stale = client(server, { token: userToken('r2', { ttl: 2 }) });
    try {
      const [ctx] = await Promise.all([connect(refreshing), connect(stale)]);
      const lostRefreshing = record(refreshing, 'connecting');
      // The server closes the stale one once its token expired (3005), and
      // its expired token cannot connect again (109, no getToken): it stops.
      const staleGone = next(stale, 'disconnected', { timeoutMs: 10000 });
      await staleGone;
      assert.equal(asked, 1);
      assert.equal(refreshing.state, 'connected');
      assert.equal(refreshing.clientId, ctx.client);
      assert.deepEqual(lostRefreshing, []);
    } finally {
      refreshing.disconnect();
      stale.disconnect();
    }
  });
});
