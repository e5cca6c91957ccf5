// pushwire in a real browser: headless Debian Chromium, driven by
// playwright-core, against `pushwire serve` over HTTP/1.1 (cleartext) and
// HTTP/2 (TLS, self-signed certificate trusted through its SPKI hash).
//
//   node --test scripts/browser/   (or scripts/browser/run.sh)
//
// Every scenario runs inside a page loaded from the server, so URLs are
// same-origin exactly as on a developer's page.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchChromium, Server } from './harness.mjs';

const T = { timeout: 20000 }; // per test

let plain; // pushwire serve, cleartext
let tls; // pushwire serve --tls-self-signed
let browser;

before(async () => {
  [plain, tls] = await Promise.all([Server.start(), Server.start({ tls: true })]);
  browser = await launchChromium({ spki: [tls.spkiHash()] });
});

after(async () => {
  await browser?.close();
  await Promise.all([plain?.stop(), tls?.stop()]);
});

/**
 * A new tab on the server's origin. Not the demo page at `/`: that one
 * connects to the hub by itself, and these tests count the server's
 * WebSockets. `/healthz` is a plain document that opens nothing.
 */
async function open(server) {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  const response = await page.goto(`${server.origin}/healthz`);
  assert.equal(response.status(), 200, `GET /healthz on ${server.origin}`);
  return page;
}

async function withPage(server, fn) {
  const page = await open(server);
  try {
    return await fn(page);
  } finally {
    await page.close();
  }
}

const navProtocol = (page) =>
  page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);

// ------------------------------------------------------------------ WebSocket

/**
 * Runs in the page: opens a WebSocket to /echo (ws: or wss: from the page's
 * scheme), round-trips text and binary, watches bufferedAmount drain, closes
 * with 4000 and a reason. Returns everything it observed.
 */
async function webSocketEcho() {
  const deadline = (ms, what) =>
    new Promise((_, fail) => setTimeout(() => fail(new Error(`timed out: ${what}`)), ms));
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/echo`;
  const states = [];
  const events = [];
  const ws = new WebSocket(url);
  const note = () => {
    if (states[states.length - 1] !== ws.readyState) states.push(ws.readyState);
  };
  note();
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  let wake = null;
  ws.onmessage = (e) => {
    events.push('message');
    inbox.push(e.data);
    if (wake) wake();
  };
  const closed = new Promise((ok) => {
    ws.onclose = (e) => {
      events.push('close');
      note();
      ok({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    };
  });
  ws.onerror = () => events.push('error');
  await Promise.race([
    new Promise((ok) => (ws.onopen = () => { events.push('open'); note(); ok(); })),
    closed.then((c) => { throw new Error(`closed before open: ${JSON.stringify(c)}`); }),
    deadline(5000, 'open'),
  ]);
  const next = () =>
    Promise.race([
      new Promise((ok) => {
        if (inbox.length) return ok(inbox.shift());
        wake = () => { wake = null; ok(inbox.shift()); };
      }),
      deadline(5000, 'echo'),
    ]);

  const text = 'héllo, pushwire 🌍';
  ws.send(text);
  const textEcho = await next();
  const bigText = 'abcdefghij'.repeat(20000); // compresses well: permessage-deflate at work
  ws.send(bigText);
  const bigTextEcho = await next();

  // 256 KiB of pseudo-random bytes: bufferedAmount is > 0 right after send().
  const bytes = new Uint8Array(256 * 1024);
  let x = 12345;
  for (let i = 0; i < bytes.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  ws.send(bytes.buffer);
  const bufferedAfterSend = ws.bufferedAmount;
  const binaryEcho = new Uint8Array(await next());
  const binaryOk = binaryEcho.length === bytes.length && binaryEcho.every((b, i) => b === bytes[i]);
  const small = new Uint8Array([0, 1, 2, 253, 254, 255]);
  ws.send(small);
  const smallEcho = Array.from(new Uint8Array(await next()));
  const drainStart = performance.now();
  while (ws.bufferedAmount > 0 && performance.now() - drainStart < 5000) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const bufferedAtEnd = ws.bufferedAmount;

  const extensions = ws.extensions;
  ws.close(4000, 'done: pushwire browser test');
  note();
  const close = await Promise.race([closed, deadline(5000, 'close')]);
  return {
    url,
    states,
    events,
    textOk: textEcho === text,
    bigTextOk: bigTextEcho === bigText,
    binaryOk,
    binaryType: Object.prototype.toString.call(binaryEcho.buffer),
    smallEcho,
    bufferedAfterSend,
    bufferedAtEnd,
    extensions,
    close,
  };
}

function assertEcho(r) {
  assert.deepEqual(r.states, [0, 1, 2, 3], `readyState transitions ${JSON.stringify(r.states)}`);
  assert.equal(r.events[0], 'open');
  assert.equal(r.events.at(-1), 'close');
  assert.equal(r.events.filter((e) => e === 'message').length, 4, `events ${r.events}`);
  assert.ok(!r.events.includes('error'), `error event: ${r.events}`);
  assert.ok(r.textOk, 'text round-trip');
  assert.ok(r.bigTextOk, '200 kB text round-trip');
  assert.ok(r.binaryOk, '256 KiB ArrayBuffer round-trip');
  assert.equal(r.binaryType, '[object ArrayBuffer]');
  assert.deepEqual(r.smallEcho, [0, 1, 2, 253, 254, 255]);
  assert.ok(r.bufferedAfterSend > 0, `bufferedAmount after send: ${r.bufferedAfterSend}`);
  assert.equal(r.bufferedAtEnd, 0, 'bufferedAmount drains to 0');
  assert.match(r.extensions, /permessage-deflate/, `extensions: ${r.extensions}`);
  // The server's close reply carries the client's code and reason back.
  assert.deepEqual(r.close, { code: 4000, reason: 'done: pushwire browser test', wasClean: true });
}

const report = (what, data) => console.log(`${what}: ${JSON.stringify(data)}`);

describe('WebSocket', () => {
  test('ws:// over HTTP/1.1 Upgrade: states, events, text, binary, bufferedAmount, close, deflate', T, async () => {
    const before = await plain.stats();
    const r = await withPage(plain, async (page) => {
      assert.equal(await navProtocol(page), 'http/1.1');
      return page.evaluate(webSocketEcho);
    });
    const after = await plain.stats();
    report('ws:// result', { ...r, stats: { h1_upgrades: after.h1_upgrades - before.h1_upgrades, extended_connects: after.extended_connects - before.extended_connects } });
    assertEcho(r);
    assert.equal(after.h1_upgrades - before.h1_upgrades, 1, 'one HTTP/1.1 upgrade');
    assert.equal(after.extended_connects, before.extended_connects, 'no extended CONNECT');
  });

  test('wss:// on the page\'s HTTP/2 connection by RFC 8441 extended CONNECT', T, async () => {
    const before = await tls.stats();
    const r = await withPage(tls, async (page) => {
      assert.equal(await navProtocol(page), 'h2', 'page loaded over HTTP/2');
      return page.evaluate(webSocketEcho);
    });
    const after = await tls.stats();
    const delta = {
      extended_connects: after.extended_connects - before.extended_connects,
      h1_upgrades: after.h1_upgrades - before.h1_upgrades,
      h2_requests: after.h2_requests - before.h2_requests,
      connections: after.connections - before.connections,
    };
    report('wss:// result', { ...r, stats: delta });
    assertEcho(r);
    assert.equal(delta.h1_upgrades, 0, 'no HTTP/1.1 upgrade: the WebSocket went over HTTP/2');
    assert.equal(delta.extended_connects, 1, 'one RFC 8441 extended CONNECT');
  });
});

// ------------------------------------------------------------------ 426

describe('require semantics', () => {
  for (const [name, server, proto] of [['HTTP/1.1', () => plain, 'http/1.1'], ['HTTP/2', () => tls, 'h2']]) {
    test(`plain fetch('/echo') over ${name} gets 426`, T, async () => {
      await withPage(server(), async (page) => {
        assert.equal(await navProtocol(page), proto);
        const r = await page.evaluate(async () => {
          const res = await fetch('/echo', { cache: 'no-store' });
          return { status: res.status, version: res.headers.get('sec-websocket-version') };
        });
        assert.equal(r.status, 426);
        assert.equal(r.version, '13');
      });
    });
  }
});

// ------------------------------------------------------------------ the hub's HTTP transports

/**
 * Runs in the page: opens the hub's unidirectional event stream,
 * `EventSource('/connection/uni_sse?cf_connect={}')`, and keeps every push
 * in `window.pushes`; resolves with the connect reply's client id.
 */
async function openUniSse() {
  window.pushes = [];
  window.sseErrors = 0;
  window.es = new EventSource('/connection/uni_sse?cf_connect=' + encodeURIComponent('{}'));
  es.onerror = () => { sseErrors += 1; };
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('no connect reply within 5 s')), 5000);
    es.onmessage = (e) => {
      const push = JSON.parse(e.data);
      pushes.push(push);
      if (push.connect) {
        clearTimeout(timer);
        ok(push.connect.client);
      }
    };
  });
}

/**
 * Runs in the page: the hub's other HTTP transport read with fetch,
 * `POST /connection/uni_http_stream` (one JSON push per line), kept in
 * `window.lines`; resolves with the connect reply's client id.
 */
async function openUniHttpStream() {
  window.lines = [];
  window.streamAbort = new AbortController();
  const res = await fetch('/connection/uni_http_stream', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
    signal: streamAbort.signal,
  });
  if (res.status !== 200) throw new Error(`uni_http_stream answered ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  let connected;
  const client = new Promise((ok) => (connected = ok));
  (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
      buffered += value;
      let end;
      while ((end = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, end).trim();
        buffered = buffered.slice(end + 1);
        if (!line) continue;
        const push = JSON.parse(line);
        lines.push(push);
        if (push.connect) connected(push.connect.client);
      }
    }
  })();
  return client;
}

/**
 * From Node: subscribes the page's connection `client` to `channel` through
 * the server API, and publishes `texts` there. The API needs the key the
 * server was given (here the development key it printed): the page itself
 * cannot publish.
 */
async function subscribeAndPublish(server, client, channel, texts) {
  const subscribed = await server.api('subscribe', { user: '', client, channel });
  assert.ok(subscribed.result && !subscribed.error, JSON.stringify(subscribed));
  for (const text of texts) {
    const published = await server.api('publish', { channel, data: { text } });
    assert.ok(published.result && !published.error, JSON.stringify(published));
  }
}

/** The texts of the publications on `channel` among `pushes`. */
const published = (pushes, channel) =>
  pushes.filter((p) => p.channel === channel && p.pub).map((p) => p.pub.data.text);

describe('Server-Sent Events (the hub\'s uni_sse)', () => {
  for (const [name, server, proto] of [['HTTP/1.1', () => plain, 'http/1.1'], ['HTTP/2', () => tls, 'h2']]) {
    test(`EventSource over ${name}: connect, a server-side subscription, publications through the API`, T, async () => {
      const srv = server();
      const channel = `chat:sse-${proto}-${Date.now()}`;
      const before = await srv.stats();
      const r = await withPage(srv, async (page) => {
        assert.equal(await navProtocol(page), proto);
        const client = await page.evaluate(openUniSse);
        await subscribeAndPublish(srv, client, channel, ['one', 'two', 'three']);
        await page.waitForFunction((channel) => pushes.filter((p) => p.channel === channel && p.pub).length >= 3, channel, { timeout: 5000 });
        return page.evaluate(() => {
          es.close();
          return { pushes, errors: sseErrors };
        });
      });
      const after = await srv.stats();
      report(`uni_sse over ${name}`, { ...r, h1_requests: after.h1_requests - before.h1_requests });
      assert.deepEqual(published(r.pushes, channel), ['one', 'two', 'three'], 'each publication once, in order');
      assert.ok(r.pushes.some((p) => p.channel === channel && p.subscribe), 'the subscribe push came first');
      assert.equal(r.errors, 0);
      if (proto === 'h2') {
        // Node reads /stats and calls the API over HTTP/1.1: 1 stats request
        // and 4 API calls are Node's, so Chromium made none: the event
        // stream rode the page's HTTP/2 connection. (A stream closed early
        // leaves no resource-timing entry to read its protocol from.)
        assert.equal(after.h1_requests - before.h1_requests, 5, 'no HTTP/1.1 request from Chromium');
      }
    });
  }

  test('EventSource reconnects by itself after the server restarts', { timeout: 30000 }, async () => {
    // A server of its own: this test stops it and starts another on the same port.
    let server = await Server.start();
    try {
      await withPage(server, async (page) => {
        const first = await page.evaluate(openUniSse);
        const port = server.port;
        await server.stop(); // the stream ends; EventSource starts reconnecting
        await page.waitForFunction(() => sseErrors > 0, null, { timeout: 5000 });
        server = await Server.start({ port });
        await page.waitForFunction(() => pushes.filter((p) => p.connect).length >= 2, null, { timeout: 10000 });
        const second = await page.evaluate(() => pushes.filter((p) => p.connect).at(-1).connect.client);
        report('uni_sse native reconnect', { first, second });
        assert.notEqual(second, first, 'a new connection on the new server');
        // The reconnected stream works: a publication reaches it.
        const channel = `chat:after-restart-${Date.now()}`;
        await subscribeAndPublish(server, second, channel, ['after the restart']);
        await page.waitForFunction((channel) => pushes.some((p) => p.channel === channel && p.pub), channel, { timeout: 5000 });
        await page.evaluate(() => es.close());
      });
    } finally {
      await server.stop();
    }
  });
});

describe('HTTP streaming with fetch (the hub\'s uni_http_stream)', () => {
  for (const [name, server, proto] of [['HTTP/1.1', () => plain, 'http/1.1'], ['HTTP/2', () => tls, 'h2']]) {
    test(`a held fetch over ${name} gets each publication as it is made, nothing lost or repeated`, T, async () => {
      const srv = server();
      const channel = `chat:stream-${proto}-${Date.now()}`;
      await withPage(srv, async (page) => {
        assert.equal(await navProtocol(page), proto);
        const client = await page.evaluate(openUniHttpStream);
        await subscribeAndPublish(srv, client, channel, ['first']);
        await page.waitForFunction((channel) => lines.some((p) => p.channel === channel && p.pub), channel, { timeout: 5000 });
        // Published while the page does nothing: the held response still carries it.
        await subscribeAndPublish(srv, client, channel, ['second', 'third']);
        await page.waitForFunction((channel) => lines.filter((p) => p.channel === channel && p.pub).length >= 3, channel, { timeout: 5000 });
        const lines = await page.evaluate(() => {
          streamAbort.abort();
          return lines;
        });
        report(`uni_http_stream over ${name}`, lines);
        assert.deepEqual(published(lines, channel), ['first', 'second', 'third']);
      });
    });
  }

  test('the page cannot publish without the server API key', T, async () => {
    await withPage(plain, async (page) => {
      const statuses = await page.evaluate(async () => {
        const post = (headers) => fetch('/api/publish', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...headers },
          body: JSON.stringify({ channel: 'chat:lobby', data: { text: 'from the page' } }),
        }).then((r) => r.status);
        return [await post({}), await post({ 'X-API-Key': 'guessed' })];
      });
      assert.deepEqual(statuses, [401, 401]);
    });
  });
});

// ------------------------------------------------------------------ the demo page

/**
 * Opens the demo page that `pushwire serve` serves at `/`, on `channel`
 * (the page takes its channel from the URL fragment). Collects script
 * errors into `problems`.
 */
async function openDemo(server, channel = '') {
  const page = await browser.newPage();
  page.setDefaultTimeout(10000);
  await page.setViewportSize({ width: 1280, height: 900 });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Chromium asks for /favicon.ico, which is not served (404).
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) {
      problems.push(`console: ${m.text()} (${m.location().url})`);
    }
  });
  const response = await page.goto(`${server.origin}/${channel ? `#${channel}` : ''}`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-type'], /^text\/html/);
  await page.locator('#ws-connect').waitFor();
  return { page, problems };
}

/** Waits until the page's chat is connected to the hub and subscribed. */
async function inRoom(page, channel) {
  await page.locator('#hub-state[data-state=connected]').waitFor();
  await page.locator('#chat-sub-state[data-state=subscribed]').waitFor();
  assert.equal(await page.textContent('#chat-room'), channel);
}

async function say(page, text) {
  await page.fill('#chat-text', text);
  await page.press('#chat-text', 'Enter');
}

/** A message in the page's chat list, by its text. */
const message = (page, text) => page.locator('#chat-messages li.msg', { hasText: text });

/** The offsets of the messages the page shows, top to bottom. */
const shownOffsets = (page) =>
  page.evaluate(() => [...document.querySelectorAll('#chat-messages li.msg')].map((li) => Number(li.dataset.offset)));

const presenceCount = (page) => page.locator('#presence-list li').count();

async function waitPresence(page, n) {
  await page.waitForFunction((n) => document.querySelectorAll('#presence-list li').length === n, n);
}

describe('demo page (web/index.html)', () => {
  for (const [name, server, scheme] of [['HTTP/1.1', () => plain, 'ws'], ['HTTP/2', () => tls, 'wss']]) {
    test(`its chat runs on the hub over ${name}: two tabs, the server API, presence, history, recovery`, { timeout: 45000 }, async () => {
      const srv = server();
      const channel = `chat:demo-${name.replace(/\W/g, '')}-${Date.now()}`;
      const stats0 = await srv.stats();
      const a = await openDemo(srv, channel);
      let b = null;
      try {
        await inRoom(a.page, channel);
        assert.equal(await a.page.textContent('#hub-endpoint'), `${scheme}://127.0.0.1:${srv.port}/connection/websocket`);
        assert.match(await a.page.textContent('#hub-client'), /^[0-9a-f-]{8,}$/);
        await a.page.fill('#chat-name', 'alice');
        await say(a.page, 'hello from alice');
        await message(a.page, 'hello from alice').and(a.page.locator('.mine')).waitFor();

        // A second tab: the earlier message comes from history; both see each other.
        b = await openDemo(srv, channel);
        await inRoom(b.page, channel);
        await message(b.page, 'hello from alice').and(b.page.locator('.history')).waitFor();
        assert.equal(await message(b.page, 'hello from alice').locator('.who').textContent(), 'alice');
        await a.page.locator('#chat-messages li.sys', { hasText: 'joined' }).waitFor();
        await waitPresence(a.page, 2);
        await waitPresence(b.page, 2);
        await b.page.fill('#chat-name', 'bob');
        await say(b.page, 'hi alice, bob here');
        await message(a.page, 'hi alice, bob here').waitFor();
        assert.equal(await message(a.page, 'hi alice, bob here').locator('.who').textContent(), 'bob');

        // A backend publishes through the server API: both tabs show it.
        const published = await srv.api('publish', { channel, data: { text: 'hello from the backend' } });
        assert.equal(published.result?.offset, 3, JSON.stringify(published));
        for (const page of [a.page, b.page]) await message(page, 'hello from the backend').and(page.locator('.server')).waitFor();

        // Alice drops; Bob goes on; Alice comes back and recovers what she missed.
        await a.page.click('#hub-disconnect');
        await a.page.locator('#hub-state[data-state=disconnected]').waitFor();
        await b.page.locator('#chat-messages li.sys', { hasText: 'left' }).waitFor();
        await say(b.page, 'missed one');
        await message(b.page, 'missed one').waitFor();
        await say(b.page, 'missed two');
        await message(b.page, 'missed two').waitFor();
        await a.page.click('#hub-connect');
        await a.page.locator('#chat-messages li.sys.ok', { hasText: 'reconnected: 2 missed messages recovered' }).waitFor();
        await message(a.page, 'missed two').waitFor();
        assert.deepEqual(await shownOffsets(a.page), [1, 2, 3, 4, 5], 'each once, in order');
        assert.equal(await a.page.textContent('#hub-reconnects'), '1');
        await say(a.page, 'back again');
        await message(b.page, 'back again').waitFor();

        // The history button: the last messages of the channel, from the hub.
        await b.page.click('#chat-history');
        await b.page.locator('#chat-messages li.sys', { hasText: 'history: the last 6 messages, offsets 1–6' }).waitFor();
        assert.deepEqual(await shownOffsets(b.page), [1, 2, 3, 4, 5, 6]);

        // Bob closes his tab: Alice's presence shrinks to herself.
        await b.page.close();
        b = null;
        await waitPresence(a.page, 1);
        assert.match(await a.page.textContent('#presence-list'), /alice \(you\)/);
        assert.equal(await presenceCount(a.page), 1);

        if (process.env.SCREENSHOT_DIR) {
          await a.page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/chat-${name.replace('/', '')}.png`, fullPage: true });
        }
        assert.deepEqual(a.problems, [], 'no script errors on the page');
        const stats1 = await srv.stats();
        const delta = {
          h1_upgrades: stats1.h1_upgrades - stats0.h1_upgrades,
          extended_connects: stats1.extended_connects - stats0.extended_connects,
        };
        report(`demo chat over ${name}`, delta);
        // Three hub WebSockets: Alice's, Bob's, Alice's again.
        if (name === 'HTTP/2') {
          assert.deepEqual(delta, { h1_upgrades: 0, extended_connects: 3 }, 'the hub WebSockets ride HTTP/2');
        } else {
          assert.deepEqual(delta, { h1_upgrades: 3, extended_connects: 0 });
        }
      } finally {
        await b?.page.close();
        await a.page.close();
      }
    });

    test(`its diagnostics buttons drive the WebSocket echo over ${name}`, { timeout: 30000 }, async () => {
      const { page, problems } = await openDemo(server());
      try {
        const wsLog = page.locator('#ws-log');
        await page.click('#ws-connect');
        await page.locator('#ws-state', { hasText: 'OPEN' }).waitFor();
        await page.locator('#ws-extensions', { hasText: 'permessage-deflate' }).waitFor();
        await page.click('#ws-send-text');
        await wsLog.locator('li.in', { hasText: '← text "hello, pushwire"' }).waitFor();
        await page.click('#ws-send-binary');
        await wsLog.locator('li.in', { hasText: 'identical to what was sent' }).waitFor();
        await page.click('#ws-close');
        await wsLog.locator('li', { hasText: 'closed: code 4000' }).waitFor();
        assert.equal(await page.textContent('#ws-transitions'), '0 → 1 → 2 → 3');
        assert.equal(await page.textContent('#ws-buffered'), '0');

        if (process.env.SCREENSHOT_DIR) {
          await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/demo-${name.replace('/', '')}.png`, fullPage: true });
        }
        assert.deepEqual(problems, [], 'no script errors on the page');
      } finally {
        await page.close();
      }
    });
  }
});

test('demo page: answers the hub\'s pings, switches channels, and reconnects to a restarted server (new epoch: history reloaded, not a silent gap)', { timeout: 45000 }, async () => {
  // Pings every second (pong within 500 ms): a page that does not answer is closed with 3012.
  const env = { PUSHWIRE_CLIENT_PING_INTERVAL: '1s', PUSHWIRE_CLIENT_PONG_TIMEOUT: '500ms' };
  let server = await Server.start({ env });
  const { page, problems } = await openDemo(server);
  try {
    await inRoom(page, 'chat:lobby');
    assert.match(await page.textContent('#hub-server'), /ping every 1 s/);
    await page.waitForFunction(() => Number(document.getElementById('hub-pings').textContent) >= 4, null, { timeout: 10000 });
    assert.equal(await page.getAttribute('#hub-state', 'data-state'), 'connected');
    assert.equal(await page.textContent('#hub-close'), '—', 'never closed: every ping was answered');
    assert.equal(await page.textContent('#hub-reconnects'), '0');

    // Another channel, typed in: the old one is left, the new one joined.
    const desk = `support:desk-${Date.now()}`;
    await page.fill('#chat-channel', desk);
    await page.click('#chat-join');
    await inRoom(page, desk);
    assert.equal(new URL(page.url()).hash, `#${desk}`);
    await server.api('publish', { channel: desk, data: { text: 'a ticket came in' } });
    await message(page, 'a ticket came in').waitFor();
    const lobby = await server.api('presence', { channel: 'chat:lobby' });
    assert.deepEqual(lobby.result?.presence ?? {}, {}, `left chat:lobby: ${JSON.stringify(lobby)}`);
    await say(page, 'first life');
    await message(page, 'first life').waitFor();

    // The server restarts on the same port: a new epoch, so nothing can be
    // recovered; the page reconnects by itself and says so.
    const port = server.port;
    await server.stop();
    await page.locator('#hub-state[data-state=disconnected]').waitFor();
    server = await Server.start({ env, port });
    await page.locator('#chat-messages li.sys.err', { hasText: "could not be recovered (the channel's stream restarted)" }).waitFor({ timeout: 20000 });
    await inRoom(page, desk);
    assert.equal(await message(page, 'first life').count(), 0, 'the old stream\'s messages are gone from the list');
    await say(page, 'second life');
    await message(page, 'second life').waitFor();
    assert.deepEqual(await shownOffsets(page), [1]);
    assert.equal(await page.textContent('#hub-reconnects'), '1');
    assert.deepEqual(problems, [], 'no script errors on the page');
  } finally {
    await page.close();
    await server.stop();
  }
});
