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

// ------------------------------------------------------------------ SSE

/** Skips the test (loudly) when the server answers 404 on `path`. */
async function needs(t, server, path) {
  if (await server.serves(path)) return true;
  const why = `SKIPPED: ${path} is not served by this pushwire build (404)`;
  console.log(why);
  t.skip(why);
  return false;
}

/**
 * Runs in the page: EventSource on /sse until 3 tick events, close; then a
 * fetch of /sse with Last-Event-ID = last id, read up to its first event.
 */
async function sseResume() {
  const deadline = (ms, what) =>
    new Promise((_, fail) => setTimeout(() => fail(new Error(`timed out: ${what}`)), ms));
  const es = new EventSource('/sse');
  const ticks = [];
  try {
    await Promise.race([
      new Promise((ok, fail) => {
        es.addEventListener('tick', (e) => {
          ticks.push({ id: e.lastEventId, data: JSON.parse(e.data) });
          if (ticks.length === 3) ok();
        });
        es.onerror = () => {
          if (es.readyState === EventSource.CLOSED) fail(new Error('EventSource failed for good'));
        };
      }),
      deadline(5000, '3 tick events'),
    ]);
  } finally {
    es.close();
  }
  const last = Number(ticks[2].id);

  const abort = new AbortController();
  const res = await fetch('/sse', { headers: { 'Last-Event-ID': String(last) }, signal: abort.signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let raw = '';
  const readUntilEvent = async () => {
    // An event ends at a blank line; stop after the first one carrying an id.
    while (!/(^|\n)id:[^\n]*\n(?:[^\n]+\n)*\n/.test(raw)) {
      const { value, done } = await reader.read();
      if (done) break;
      raw += value;
    }
  };
  await Promise.race([readUntilEvent(), deadline(5000, 'resumed event')]);
  abort.abort();
  const id = /(?:^|\n)id: ?([^\n]*)/.exec(raw)?.[1];
  return {
    ticks,
    last,
    status: res.status,
    contentType: res.headers.get('content-type'),
    resumedId: id === undefined ? null : Number(id),
    raw: raw.slice(0, 300),
  };
}

function assertSse(r) {
  assert.equal(r.ticks.length, 3);
  for (let i = 0; i < 3; i++) {
    const n = Number(r.ticks[i].id);
    assert.ok(Number.isInteger(n), `tick id ${r.ticks[i].id}`);
    assert.deepEqual(r.ticks[i].data, { n }, 'data is {"n":id}');
    if (i > 0) assert.equal(n, Number(r.ticks[i - 1].id) + 1, 'ids are consecutive');
  }
  assert.equal(r.status, 200);
  assert.match(r.contentType, /^text\/event-stream/);
  assert.match(r.raw, /(^|\n)retry: ?1000\n/, 'retry: 1000 sent');
  assert.equal(r.resumedId, r.last + 1, `resumed after Last-Event-ID ${r.last}: ${JSON.stringify(r.raw)}`);
}

describe('Server-Sent Events', () => {
  test('EventSource over HTTP/1.1, then resume with Last-Event-ID', T, async (t) => {
    if (!(await needs(t, plain, '/sse'))) return;
    const r = await withPage(plain, async (page) => {
      assert.equal(await navProtocol(page), 'http/1.1');
      return page.evaluate(sseResume);
    });
    report('SSE over HTTP/1.1', r);
    assertSse(r);
  });

  test('EventSource over HTTP/2, then resume with Last-Event-ID', T, async (t) => {
    if (!(await needs(t, tls, '/sse'))) return;
    const before = await tls.stats();
    const r = await withPage(tls, async (page) => {
      assert.equal(await navProtocol(page), 'h2');
      const r = await page.evaluate(sseResume);
      r.sseProtocols = await page.evaluate(() =>
        performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/sse')).map((e) => e.nextHopProtocol));
      return r;
    });
    const after = await tls.stats();
    report('SSE over HTTP/2', { ...r, h1_requests: after.h1_requests - before.h1_requests });
    assertSse(r);
    // Node reads /stats over HTTP/1.1, and the snapshot it gets counts that
    // request itself: 1 is Node's, so Chromium made none.
    assert.equal(after.h1_requests - before.h1_requests, 1, 'no HTTP/1.1 request from Chromium');
    assert.deepEqual([...new Set(r.sseProtocols)], ['h2'], 'EventSource and the resume fetch over h2');
  });

  test('EventSource reconnects by itself after the server restarts, sending Last-Event-ID', { timeout: 30000 }, async (t) => {
    // A server of its own: this test stops it and starts another on the same port.
    let server = await Server.start();
    try {
      if (!(await needs(t, server, '/sse'))) return;
      await withPage(server, async (page) => {
        await page.evaluate(() => {
          window.seen = [];
          window.errors = 0;
          window.es = new EventSource('/sse');
          es.addEventListener('tick', (e) => seen.push(Number(e.lastEventId)));
          es.onerror = () => { errors += 1; window.lastBeforeError ??= seen[seen.length - 1]; };
        });
        await page.waitForFunction(() => seen.length >= 3, null, { timeout: 5000 });
        const port = server.port;
        await server.stop(); // the stream ends; EventSource starts reconnecting
        await page.waitForFunction(() => errors > 0, null, { timeout: 5000 });
        server = await Server.start({ port });
        await page.waitForFunction(() => seen.length > 0 && seen[seen.length - 1] > lastBeforeError, null, { timeout: 10000 });
        const r = await page.evaluate(() => {
          es.close();
          const i = seen.indexOf(lastBeforeError);
          return { lastBeforeError, after: seen.slice(i + 1, i + 3), errors, readyState: es.readyState };
        });
        report('SSE native reconnect', r);
        assert.equal(r.after[0], r.lastBeforeError + 1, 'the reconnected stream resumes right after the last id seen');
      });
    } finally {
      await server.stop();
    }
  });
});

// ------------------------------------------------------------------ long polling

/**
 * Runs in the page: learns the current cursor, holds a poll, publishes while
 * it is held, and checks the poll returns the message; then a second poll
 * from the new cursor gets the next message.
 */
async function longPoll() {
  const deadline = (ms, what) =>
    new Promise((_, fail) => setTimeout(() => fail(new Error(`timed out: ${what}`)), ms));
  const poll = async (cursor, timeoutMs) => {
    const res = await fetch(`/poll?cursor=${cursor}&timeout_ms=${timeoutMs}`, { cache: 'no-store' });
    if (res.status !== 200) throw new Error(`/poll answered ${res.status}`);
    return res.json();
  };
  const publish = async (text) => {
    const res = await fetch('/publish', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: text });
    return res.status;
  };
  const text = (m) => (typeof m === 'string' ? m : m?.data ?? m?.text ?? m?.message ?? JSON.stringify(m));

  // Where the stream stands now: a poll that does not wait.
  const start = await poll(0, 0);
  const first = `first ${Math.random()}`;
  const second = `second ${Math.random()}`;

  const t0 = performance.now();
  const held = poll(start.cursor, 10000);
  await new Promise((r) => setTimeout(r, 300)); // the poll is now held by the server
  const heldFor = { settled: false };
  held.then(() => (heldFor.settled = true));
  await new Promise((r) => setTimeout(r, 0));
  const settledBeforePublish = heldFor.settled;
  const status1 = await publish(first);
  const got1 = await Promise.race([held, deadline(5000, 'poll released by publish')]);
  const waited = performance.now() - t0;

  // Published while nobody polls: the next poll from the cursor still gets it.
  const status2 = await publish(second);
  const got2 = await Promise.race([poll(got1.cursor, 5000), deadline(6000, 'second poll')]);
  return {
    start,
    status1,
    status2,
    settledBeforePublish,
    waited,
    got1: { cursor: got1.cursor, messages: got1.messages.map(text) },
    got2: { cursor: got2.cursor, messages: got2.messages.map(text) },
    first,
    second,
  };
}

function assertPoll(r) {
  assert.equal(r.status1, 202, 'POST /publish answers 202');
  assert.equal(r.status2, 202);
  assert.equal(r.settledBeforePublish, false, 'the poll was held until something was published');
  assert.deepEqual(r.got1.messages, [r.first], 'the held poll returned the message');
  assert.deepEqual(r.got2.messages, [r.second], 'the next poll returned the next message, nothing lost or repeated');
  assert.notEqual(r.got1.cursor, r.start.cursor);
  assert.notEqual(r.got2.cursor, r.got1.cursor);
}

describe('long polling', () => {
  for (const [name, server, proto] of [['HTTP/1.1', () => plain, 'http/1.1'], ['HTTP/2', () => tls, 'h2']]) {
    test(`fetch long poll + publish over ${name}`, T, async (t) => {
      if (!(await needs(t, server(), '/poll?cursor=0&timeout_ms=0'))) return;
      const r = await withPage(server(), async (page) => {
        assert.equal(await navProtocol(page), proto);
        return page.evaluate(longPoll);
      });
      report(`long polling over ${name}`, r);
      assertPoll(r);
    });
  }
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

    test(`its diagnostics buttons drive the WebSocket echo, SSE and long polling over ${name}`, { timeout: 30000 }, async () => {
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

        await page.click('#sse-connect');
        await page.waitForFunction(() => Number(document.getElementById('sse-count').textContent) >= 2);
        assert.match(await page.textContent('#sse-last-id'), /^\d+$/);
        await page.click('#sse-close');

        await page.click('#poll-start');
        await page.locator('#poll-status', { hasText: 'waiting' }).waitFor();
        const text = `demo ${name} ${Date.now()}`;
        await page.fill('#publish-text', text);
        await page.click('#publish');
        await page.locator('#publish-status', { hasText: 'HTTP 202' }).waitFor();
        await page.locator('#poll-log li.in', { hasText: `← ${text}` }).waitFor();
        await page.click('#poll-stop');

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
