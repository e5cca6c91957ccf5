// centrifuge-js (npm `centrifuge`, unmodified) in Node over the hub's
// bidirectional emulation: `http_stream` (a POST whose response streams
// newline-delimited replies) and `sse` (an EventSource, from the npm
// `eventsource` package), each sending its later commands to `POST
// /emulation`. Connect with a token, subscribe, API publications,
// client-side publish and presence, pings answered, recovery after a
// disconnect, the fall-back from a WebSocket that fails, `http_stream`
// over HTTP/2 (h2c), the status codes of the endpoints, and CORS under
// `client.allowed_origins`.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Centrifuge } from 'centrifuge';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { baseConfig, channel, connected, next, record, Server, subscribed, until, userToken } from './harness.mjs';

/** The page origin `client.allowed_origins` lists. */
const APP_ORIGIN = 'http://app.example';
const EVIL_ORIGIN = 'http://evil.example';

/** Short pings, so a test sees pongs go through `/emulation`. */
function config() {
  const c = baseConfig();
  c.client.ping_interval = '3s';
  c.client.pong_timeout = '2s';
  c.client.allowed_origins = [APP_ORIGIN];
  return c;
}

/** `fetch` that keeps the bodies posted to `/emulation` and may add headers. */
function recordingFetch(posted, headers = {}) {
  return (url, init = {}) => {
    if (String(url).endsWith('/emulation')) posted.push(JSON.parse(init.body));
    return fetch(url, { ...init, headers: { ...init.headers, ...headers } });
  };
}

/** An `EventSource` class whose requests carry `headers`. */
function eventSourceWith(headers) {
  return class extends EventSource {
    constructor(url, init = {}) {
      super(url, {
        ...init,
        fetch: (u, i = {}) => fetch(u, { ...i, headers: { ...i.headers, ...headers } }),
      });
    }
  };
}

/** The commands of the `/emulation` bodies (each `data` is `\n`-joined commands). */
const commands = (posted) => posted.flatMap((b) => b.data.split('\n').filter(Boolean).map((c) => JSON.parse(c)));

/**
 * A `fetch` over one HTTP/2 cleartext connection (prior knowledge), as a
 * browser uses one h2 connection for the stream and every `/emulation`
 * request. `streams` counts the requests it sent.
 */
function http2Fetch(origin) {
  const session = http2.connect(origin);
  session.on('error', () => {});
  const h2fetch = (url, init = {}) =>
    new Promise((ok, fail) => {
      const u = new URL(url);
      const headers = { ':method': init.method || 'GET', ':path': u.pathname + u.search };
      for (const [k, v] of Object.entries(init.headers || {})) headers[k.toLowerCase()] = v;
      const stream = session.request(headers);
      h2fetch.streams += 1;
      const abort = () => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        fail(new DOMException('aborted', 'AbortError'));
      };
      if (init.signal?.aborted) return abort();
      init.signal?.addEventListener('abort', abort, { once: true });
      stream.once('error', fail);
      stream.once('response', (h) => {
        const status = h[':status'];
        const body = status === 204 || status === 304 ? null : Readable.toWeb(stream);
        if (body === null) stream.resume();
        ok(new Response(body, { status }));
      });
      stream.end(init.body ?? undefined);
    });
  h2fetch.streams = 0;
  h2fetch.close = () => session.close();
  return h2fetch;
}

describe('centrifuge-js over the emulation transports', () => {
  let server;
  const clients = [];
  /** A client on `transport` only (http_stream or sse), with an absolute emulation endpoint. */
  const newClient = (transport, user, options = {}) => {
    const path = transport === 'sse' ? '/connection/sse' : '/connection/http_stream';
    const c = new Centrifuge([{ transport, endpoint: server.origin + path }], {
      token: userToken(user),
      emulationEndpoint: server.origin + '/emulation',
      eventsource: EventSource,
      minReconnectDelay: 100,
      maxReconnectDelay: 1000,
      ...options,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await Server.start({ config: config() });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  for (const transport of ['http_stream', 'sse']) {
    describe(transport, () => {
      test('connects with a token, subscribes, and receives a publication made through POST /api/publish', async () => {
        const c = newClient(transport, `${transport}-a`);
        const ctx = await connected(c);
        assert.equal(ctx.transport, transport);
        const ch = channel('chat', transport);
        const sub = c.newSubscription(ch);
        const s = await subscribed(sub);
        assert.equal(s.recoverable, true);
        const arrived = next(sub, 'publication');
        const res = await server.api('publish', { channel: ch, data: { text: 'hello' } });
        assert.equal(res.status, 200, res.text);
        const pub = await arrived;
        assert.deepEqual(pub.data, { text: 'hello' });
        assert.equal(pub.offset, 1);
        c.disconnect();
      });

      test('publishes and asks for presence through /emulation', async () => {
        const posted = [];
        const c = newClient(transport, `${transport}-p`, { fetch: recordingFetch(posted) });
        const { client } = await connected(c);
        const ch = channel('chat', transport);
        const sub = c.newSubscription(ch);
        await subscribed(sub);
        const mine = next(sub, 'publication');
        assert.deepEqual(await sub.publish({ text: 'from the client' }), {});
        const pub = await mine;
        assert.deepEqual(pub.data, { text: 'from the client' });
        assert.equal(pub.info.user, `${transport}-p`);
        const presence = await sub.presence();
        assert.deepEqual(Object.keys(presence.clients), [client]);
        assert.equal(presence.clients[client].user, `${transport}-p`);
        const sent = commands(posted);
        for (const method of ['subscribe', 'publish', 'presence']) {
          assert.ok(sent.some((cmd) => method in cmd), `${method} went through /emulation: ${JSON.stringify(sent)}`);
        }
        c.disconnect();
      });

      test('answers the server pings: two pongs go out and the connection stays up', async () => {
        const posted = [];
        const c = newClient(transport, `${transport}-ping`, { fetch: recordingFetch(posted) });
        const { client } = await connected(c);
        const sub = c.newSubscription(channel('chat', 'ping'));
        await subscribed(sub);
        const events = [];
        c.on('connecting', (ctx) => events.push(['connecting', ctx.code]));
        c.on('disconnected', (ctx) => events.push(['disconnected', ctx.code]));
        const pongs = () => commands(posted).filter((cmd) => Object.keys(cmd).length === 0).length;
        // Without the first pong the hub would disconnect (3012) two
        // seconds after its first ping, before its second ping.
        await until(() => pongs() >= 2, { timeoutMs: 12000, what: 'two pongs' });
        assert.deepEqual(events, []);
        assert.equal(c.state, 'connected');
        // The same connection still answers.
        const presence = await sub.presence();
        assert.deepEqual(Object.keys(presence.clients), [client]);
        c.disconnect();
      });

      test('recovers the publications missed while disconnected: each once, in order', async () => {
        const c = newClient(transport, `${transport}-r`);
        await connected(c);
        const ch = channel('chat', transport);
        const sub = c.newSubscription(ch);
        const pubs = record(sub, 'publication');
        await subscribed(sub);
        await server.publish(ch, { n: 1 });
        await until(() => pubs.length === 1, { what: 'the first publication' });
        const gone = next(c, 'disconnected');
        c.disconnect();
        await gone;
        for (let n = 2; n <= 21; n++) await server.publish(ch, { n });
        const again = next(sub, 'subscribed');
        c.connect();
        const s = await again;
        assert.equal(s.wasRecovering, true, JSON.stringify(s));
        assert.equal(s.recovered, true, JSON.stringify(s));
        await server.publish(ch, { n: 22 });
        await until(() => pubs.some((p) => p.data.n === 22), { what: `publication 22 (have ${pubs.length})` });
        assert.deepEqual(
          pubs.map((p) => p.data.n),
          Array.from({ length: 22 }, (_, i) => i + 1),
        );
        c.disconnect();
      });
    });
  }

  test('a WebSocket endpoint that answers 404 falls back to http_stream', async () => {
    const c = new Centrifuge(
      [
        { transport: 'websocket', endpoint: `ws://127.0.0.1:${server.port}/no/such/websocket` },
        { transport: 'http_stream', endpoint: server.origin + '/connection/http_stream' },
      ],
      { token: userToken('fallback'), websocket: WebSocket, emulationEndpoint: server.origin + '/emulation' },
    );
    clients.push(c);
    const ctx = await connected(c);
    assert.equal(ctx.transport, 'http_stream');
    const ch = channel('chat', 'fb');
    const sub = c.newSubscription(ch);
    await subscribed(sub);
    const arrived = next(sub, 'publication');
    await server.publish(ch, { fell: 'back' });
    assert.deepEqual((await arrived).data, { fell: 'back' });
    c.disconnect();
  });

  test('http_stream over HTTP/2: the stream and the /emulation requests share one h2c connection', async () => {
    const h2 = http2Fetch(server.origin);
    const c = newClient('http_stream', 'h2', { fetch: h2 });
    try {
      const ctx = await connected(c);
      assert.equal(ctx.transport, 'http_stream');
      const ch = channel('chat', 'h2');
      const sub = c.newSubscription(ch);
      const pubs = record(sub, 'publication');
      await subscribed(sub);
      assert.deepEqual(await sub.publish({ over: 'h2' }), {});
      await server.publish(ch, { from: 'api' });
      await until(() => pubs.length === 2, { what: 'two publications' });
      assert.deepEqual(pubs.map((p) => p.data), [{ over: 'h2' }, { from: 'api' }]);
      assert.ok(h2.streams >= 3, `the stream, subscribe and publish went over h2 (${h2.streams} streams)`);
    } finally {
      c.disconnect();
      h2.close();
    }
  });

  test('/emulation answers 204, 400, 413, 405 and its preflight', async () => {
    const post = (body, headers = {}) =>
      fetch(server.origin + '/emulation', { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
    // A session that is gone (or never was): 204, its stream has ended.
    let res = await post(JSON.stringify({ session: 'no-such-session', node: 'x', data: '{}' }));
    assert.equal(res.status, 204);
    // A live session: its commands are answered on its stream.
    const c = newClient('http_stream', 'codes');
    await connected(c);
    const session = c._session;
    assert.ok(session, 'the connect result carried a session');
    const ch = channel('chat', 'codes');
    const sub = c.newSubscription(ch);
    await subscribed(sub);
    const arrived = next(sub, 'publication');
    const publish = JSON.stringify({ id: 9999, publish: { channel: ch, data: { raw: true } } });
    res = await post(JSON.stringify({ session, node: c._node ?? '', data: publish }));
    assert.equal(res.status, 204);
    assert.deepEqual((await arrived).data, { raw: true });
    c.disconnect();

    for (const bad of ['', 'not json', '{"session":"s"}', '{"session":"s","data":{"id":1}}', '[]']) {
      res = await post(bad);
      assert.equal(res.status, 400, `body ${JSON.stringify(bad)}`);
      await res.body?.cancel();
    }
    res = await post(JSON.stringify({ session: 's', data: 'x'.repeat(65 * 1024) }));
    assert.equal(res.status, 413);
    await res.body?.cancel();
    for (const method of ['GET', 'PUT', 'DELETE']) {
      res = await fetch(server.origin + '/emulation', { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST, OPTIONS');
      await res.body?.cancel();
    }
    res = await fetch(server.origin + '/emulation', { method: 'OPTIONS' });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-max-age'), '300');
    assert.equal(res.headers.get('access-control-allow-methods'), 'POST, OPTIONS');
  });

  test('the stream endpoints: their headers, 405, 400 without cf_connect, 413 over 64 KiB', async () => {
    const connect = JSON.stringify({ id: 1, connect: { token: userToken('heads') } });
    const ac = new AbortController();
    let res = await fetch(server.origin + '/connection/http_stream', { method: 'POST', body: connect, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    assert.equal(res.headers.get('cache-control'), 'private, no-cache, no-store, must-revalidate, max-age=0');
    assert.equal(res.headers.get('pragma'), 'no-cache');
    assert.equal(res.headers.get('expires'), '0');
    const reader = res.body.getReader();
    const { value } = await reader.read();
    const line = new TextDecoder().decode(value);
    assert.ok(line.endsWith('\n'), JSON.stringify(line));
    const reply = JSON.parse(line);
    assert.equal(reply.id, 1);
    assert.equal(reply.connect.pong, true);
    assert.equal(typeof reply.connect.session, 'string');
    ac.abort();

    const sse = new AbortController();
    res = await fetch(`${server.origin}/connection/sse?cf_connect=${encodeURIComponent(connect)}`, { signal: sse.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const events = res.body.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await events.read()).value);
    assert.ok(text.startsWith('\r\ndata: {"id":1,"connect":'), JSON.stringify(text));
    sse.abort();

    res = await fetch(server.origin + '/connection/sse');
    assert.equal(res.status, 400, 'no cf_connect');
    await res.body?.cancel();
    res = await fetch(server.origin + '/connection/http_stream');
    assert.equal(res.status, 405);
    await res.body?.cancel();
    res = await fetch(server.origin + '/connection/http_stream', { method: 'POST', body: 'x'.repeat(65 * 1024) });
    assert.equal(res.status, 413);
    await res.body?.cancel();
    res = await fetch(server.origin + '/connection/http_stream', { method: 'OPTIONS' });
    assert.equal(res.status, 204);
  });

  describe('CORS under client.allowed_origins', () => {
    const connect = () => JSON.stringify({ id: 1, connect: { token: userToken('cors') } });
    const requests = () => [
      ['POST', '/connection/http_stream', connect()],
      ['GET', `/connection/sse?cf_connect=${encodeURIComponent(connect())}`],
      ['POST', '/connection/sse', connect()],
      ['POST', '/emulation', JSON.stringify({ session: 'x', data: '{}' })],
      ['GET', `/connection/uni_sse?cf_connect=${encodeURIComponent(JSON.stringify({ token: userToken('cors') }))}`],
      ['POST', '/connection/uni_http_stream', JSON.stringify({ token: userToken('cors') })],
    ];

    test('an allowed origin is echoed with credentials, on preflights and requests', async () => {
      for (const [method, path, body] of requests()) {
        const pre = await fetch(server.origin + path, {
          method: 'OPTIONS',
          headers: { Origin: APP_ORIGIN, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'content-type' },
        });
        assert.equal(pre.status, 204, `OPTIONS ${path}`);
        assert.equal(pre.headers.get('access-control-allow-origin'), APP_ORIGIN, path);
        assert.equal(pre.headers.get('access-control-allow-credentials'), 'true', path);
        assert.equal(pre.headers.get('access-control-allow-headers'), 'content-type', path);
        assert.ok(pre.headers.get('access-control-allow-methods').includes(method), path);
        const ac = new AbortController();
        const res = await fetch(server.origin + path, { method, body, headers: { Origin: APP_ORIGIN }, signal: ac.signal });
        assert.ok(res.status === 200 || res.status === 204, `${method} ${path}: ${res.status}`);
        assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN, path);
        assert.equal(res.headers.get('access-control-allow-credentials'), 'true', path);
        ac.abort();
      }
    });

    test('any other origin gets 403 on every endpoint, preflight included', async () => {
      for (const [method, path, body] of requests()) {
        for (const m of ['OPTIONS', method]) {
          const res = await fetch(server.origin + path, {
            method: m,
            body: m === 'OPTIONS' ? undefined : body,
            headers: { Origin: EVIL_ORIGIN },
          });
          assert.equal(res.status, 403, `${m} ${path}`);
          assert.equal(res.headers.get('access-control-allow-origin'), null, `${m} ${path}`);
          await res.body?.cancel();
        }
      }
      // The server's own origin needs no listing.
      const res = await fetch(server.origin + '/emulation', { method: 'OPTIONS', headers: { Origin: server.origin } });
      assert.equal(res.status, 204);
    });

    for (const transport of ['http_stream', 'sse']) {
      test(`centrifuge-js on a page of an allowed origin works over ${transport}; one of another origin cannot connect`, async () => {
        const page = { Origin: APP_ORIGIN };
        const c = newClient(transport, 'cors-page', { fetch: recordingFetch([], page), eventsource: eventSourceWith(page) });
        assert.equal((await connected(c)).transport, transport);
        const ch = channel('chat', 'cors');
        const sub = c.newSubscription(ch);
        await subscribed(sub);
        assert.deepEqual(await sub.publish({ cors: true }), {});
        c.disconnect();

        const evil = { Origin: EVIL_ORIGIN };
        const e = newClient(transport, 'cors-evil', { fetch: recordingFetch([], evil), eventsource: eventSourceWith(evil) });
        const errors = record(e, 'error');
        e.connect();
        await until(() => errors.some((err) => err.type === 'transport'), { what: 'a transport error' });
        assert.notEqual(e.state, 'connected');
        e.disconnect();
      });
    }
  });
});
