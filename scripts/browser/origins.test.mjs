// The origin rule in a real browser: a page from one origin opens a
// WebSocket (/echo), an EventSource (the hub's uni_sse) and a streaming
// fetch (the hub's uni_http_stream) to another pushwire serve. A server
// that allows the page's origin (--allow-origin for /echo, the hub's
// client.allowed_origins for its endpoints) serves all three; one without
// refuses all three (403, so Chromium fails the WebSocket and blocks the
// cross-origin responses).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, launchChromium, Server } from './harness.mjs';

let pageServer; // serves the page: its origin is the one allowed or not
let allowing; // --allow-origin and client.allowed_origins: the page's origin
let defaultRule; // same-origin only
let browser;

before(async () => {
  const pagePort = await freePort();
  const pageOrigin = `http://127.0.0.1:${pagePort}`;
  [pageServer, allowing, defaultRule] = await Promise.all([
    Server.start({ port: pagePort }),
    Server.start({ args: ['--allow-origin', pageOrigin], env: { PUSHWIRE_CLIENT_ALLOWED_ORIGINS: pageOrigin } }),
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
    const source = new EventSource(target + '/connection/uni_sse?cf_connect=' + encodeURIComponent('{}'));
    source.onmessage = (e) => {
      source.close();
      done({ connected: Boolean(JSON.parse(e.data).connect?.client) });
    };
    source.onerror = () => {
      source.close();
      done({ error: true });
    };
  }));

  let stream;
  try {
    const abort = new AbortController();
    // text/plain: a simple request, no preflight.
    const res = await fetch(target + '/connection/uni_http_stream', {
      method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}', signal: abort.signal,
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('\n')) {
      const { value, done } = await within(5000, 'the first line of the stream', reader.read());
      if (done) break;
      text += value;
    }
    abort.abort();
    stream = { status: res.status, connected: Boolean(JSON.parse(text.split('\n')[0]).connect?.client) };
  } catch (e) {
    stream = { error: e.name };
  }
  return { websocket, sse, stream };
}

test('a server that allows the page\'s origin serves its WebSocket, EventSource and fetch', { timeout: 30000 }, async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${pageServer.origin}/`);
    const seen = await page.evaluate(crossOrigin, allowing.origin);
    assert.deepEqual(seen.websocket, { opened: true, echoed: 'across origins' });
    assert.deepEqual(seen.sse, { connected: true });
    assert.deepEqual(seen.stream, { status: 200, connected: true });
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
    assert.deepEqual(seen.stream, { error: 'TypeError' });
  } finally {
    await page.close();
  }
  // The refusals were the server's decision, not the network's.
  assert.match(defaultRule.output(), /403/);
});
