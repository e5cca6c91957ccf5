// The origin rule in a real browser: a page from one origin opens a
// WebSocket, an EventSource and a fetch to another pushwire serve. A server
// started with --allow-origin for the page's origin serves all three; one
// without refuses all three (403, so Chromium fails the WebSocket and blocks
// the cross-origin responses).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, launchChromium, Server } from './harness.mjs';

let pageServer; // serves the page: its origin is the one allowed or not
let allowing; // --allow-origin <page's origin>
let defaultRule; // same-origin only
let browser;

before(async () => {
  const pagePort = await freePort();
  const pageOrigin = `http://127.0.0.1:${pagePort}`;
  [pageServer, allowing, defaultRule] = await Promise.all([
    Server.start({ port: pagePort }),
    Server.start({ args: ['--allow-origin', pageOrigin] }),
    Server.start(),
  ]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await Promise.all([pageServer?.stop(), allowing?.stop(), defaultRule?.stop()]);
});

/** Runs in the page: the three transports against `target`. */
async function crossOrigin(target) {
  const within = (ms, what, promise) =>
    Promise.race([promise, new Promise((_, fail) => setTimeout(() => fail(new Error(`timed out: ${what}`)), ms))]);

  const websocket = await within(5000, 'WebSocket', new Promise((done) => {
    const ws = new WebSocket(target.replace(/^http/, 'ws') + '/echo');
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.send('across origins');
    };
    ws.onmessage = (e) => {
      ws.close(1000);
      done({ opened, echoed: e.data });
    };
    ws.onclose = (e) => done({ opened, closeCode: e.code });
  }));

  const sse = await within(5000, 'EventSource', new Promise((done) => {
    const source = new EventSource(target + '/sse');
    source.addEventListener('tick', (e) => {
      source.close();
      done({ tick: JSON.parse(e.data).n });
    });
    source.onerror = () => {
      source.close();
      done({ error: true });
    };
  }));

  let poll;
  try {
    const res = await fetch(target + '/poll?timeout_ms=1');
    poll = { status: res.status, body: await res.json() };
  } catch (e) {
    poll = { error: e.name };
  }
  return { websocket, sse, poll };
}

test('a server with --allow-origin serves the page\'s WebSocket, EventSource and fetch', { timeout: 30000 }, async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${pageServer.origin}/`);
    const seen = await page.evaluate(crossOrigin, allowing.origin);
    assert.deepEqual(seen.websocket, { opened: true, echoed: 'across origins' });
    assert.equal(seen.sse.tick, 1);
    assert.equal(seen.poll.status, 200);
    assert.ok(Array.isArray(seen.poll.body.messages), JSON.stringify(seen.poll));
  } finally {
    await page.close();
  }
});

test('a server without it refuses all three from another origin', { timeout: 30000 }, async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${pageServer.origin}/`);
    const seen = await page.evaluate(crossOrigin, defaultRule.origin);
    assert.deepEqual(seen.websocket, { opened: false, closeCode: 1006 });
    assert.deepEqual(seen.sse, { error: true });
    assert.deepEqual(seen.poll, { error: 'TypeError' });
  } finally {
    await page.close();
  }
  // The refusals were the server's decision, not the network's.
  assert.match(defaultRule.output(), /403/);
});
