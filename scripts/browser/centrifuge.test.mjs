// The hub from a real browser: unmodified centrifuge-js (npm `centrifuge`,
// its browser bundle dist/centrifuge.js) in headless Debian Chromium against
// `pushwire serve`, over WebSocket on HTTP/1.1 (ws://, Upgrade) and on
// HTTP/2 (wss:// to a --tls-self-signed server: Chromium carries the
// WebSocket on the page's HTTP/2 connection by RFC 8441 extended CONNECT).
//
// The check is issue 19's recovery check: subscribe to a channel with
// history, receive a publication made through the server API from Node,
// disconnect, publish 50 through the API, reconnect — `subscribed` says
// `wasRecovering: true, recovered: true` and the 50 arrive once each, in order.
//
//   scripts/browser/run.sh --test-name-pattern=centrifuge-js

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchChromium, Server } from './harness.mjs';

const T = { timeout: 30000 };

const HMAC_SECRET = 'browser-hub-secret-' + randomBytes(16).toString('hex');
const API_KEY = 'browser-hub-api-key-' + randomBytes(8).toString('hex');

/** An HS256 connection token for `user`, valid an hour. */
function userToken(user) {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: user, iat: now, exp: now + 3600 })}`;
  return `${input}.${createHmac('sha256', HMAC_SECRET).update(input).digest('base64url')}`;
}

/**
 * A Centrifugo v6 config: tokens signed with HMAC_SECRET, the API behind
 * API_KEY, and a `chat` namespace with history and forced recovery. No
 * `allowed_origins`: the page comes from the server itself (same origin).
 */
const CONFIG = {
  client: { token: { hmac_secret_key: HMAC_SECRET } },
  http_api: { key: API_KEY },
  channel: {
    namespaces: [
      {
        name: 'chat',
        allow_subscribe_for_client: true,
        allow_publish_for_subscriber: true,
        allow_history_for_subscriber: true,
        allow_presence_for_subscriber: true,
        presence: true,
        history_size: 1000,
        history_ttl: '300s',
        force_recovery: true,
      },
    ],
  },
};

// The SDK's browser bundle (an IIFE that sets globalThis.Centrifuge), put
// into the page by playwright: the server needs no route for it.
// (`centrifuge` exports neither path, so it is read from node_modules.)
const PACKAGE = new URL('./node_modules/centrifuge/', import.meta.url);
const CENTRIFUGE_JS = await readFile(new URL('dist/centrifuge.js', PACKAGE), 'utf8');
const CENTRIFUGE_VERSION = JSON.parse(await readFile(new URL('package.json', PACKAGE), 'utf8')).version;

let configDir;
let plain; // pushwire serve --config, cleartext: HTTP/1.1
let tls; // the same with --tls-self-signed: HTTP/2 negotiated by ALPN
let browser;

before(async () => {
  configDir = await mkdtemp(join(tmpdir(), 'pushwire-browser-hub-'));
  const file = join(configDir, 'config.json');
  await writeFile(file, JSON.stringify(CONFIG, null, 2));
  [plain, tls] = await Promise.all([
    Server.start({ args: ['--config', file] }),
    Server.start({ tls: true, args: ['--config', file] }),
  ]);
  browser = await launchChromium({ spki: [tls.spkiHash()] });
});

after(async () => {
  await browser?.close();
  await Promise.all([plain?.stop(), tls?.stop()]);
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

/** `POST /api/publish` from Node (HTTP/1.1, TLS when the server has it); returns the result. */
async function apiPublish(server, channel, data) {
  const body = await server.api('publish', { channel, data }, API_KEY);
  assert.ok(body.result && !body.error, `POST /api/publish: ${JSON.stringify(body)}`);
  return body.result;
}

/**
 * Runs in the page, with centrifuge-js loaded. `publish(data)` is exposed
 * by Node and publishes through the server API. Returns what the SDK saw.
 */
async function recoveryInPage({ url, token, channel, missed }) {
  const log = [];
  const within = (ms, what, promise) =>
    Promise.race([promise, new Promise((_, fail) => setTimeout(() => fail(new Error(`timed out: ${what}; log ${JSON.stringify(log.slice(-20))}`)), ms))]);
  const until = (what, cond, ms = 10000) =>
    within(ms, what, new Promise((ok) => {
      const check = () => (cond() ? ok() : setTimeout(check, 10));
      check();
    }));
  const once = (emitter, event) => new Promise((ok) => emitter.once(event, ok));

  const client = new Centrifuge(url, { token });
  for (const event of ['connecting', 'connected', 'disconnected', 'error']) {
    client.on(event, (ctx) => log.push({ client: event, code: ctx.code ?? ctx.error?.code, reason: ctx.reason ?? ctx.error?.message, transport: ctx.transport }));
  }
  const sub = client.newSubscription(channel);
  const subscribed = [];
  const pubs = [];
  sub.on('subscribed', (ctx) => {
    subscribed.push({
      wasRecovering: ctx.wasRecovering,
      recovered: ctx.recovered,
      recoverable: ctx.recoverable,
      positioned: ctx.positioned,
      streamPosition: ctx.streamPosition,
    });
  });
  sub.on('publication', (ctx) => pubs.push({ data: ctx.data, offset: ctx.offset }));
  for (const event of ['subscribing', 'unsubscribed', 'error']) {
    sub.on(event, (ctx) => log.push({ sub: event, code: ctx.code ?? ctx.error?.code, reason: ctx.reason ?? ctx.error?.message }));
  }

  const connected = within(5000, 'connected', once(client, 'connected'));
  sub.subscribe();
  client.connect();
  const connectedCtx = await connected;
  await until('subscribed', () => subscribed.length === 1);

  // A publication made through the server API arrives live.
  const first = await publish({ n: 0 });
  await until('the first publication', () => pubs.length === 1);

  // Gone: the SDK keeps the subscription's position (offset + epoch).
  const gone = within(5000, 'disconnected', once(client, 'disconnected'));
  client.disconnect();
  await gone;
  const stateWhileGone = { client: client.state, sub: sub.state };
  for (let n = 1; n <= missed; n++) await publish({ n });

  // Back: the subscribe carries recover + offset + epoch.
  const back = within(5000, 'connected again', once(client, 'connected'));
  client.connect();
  await back;
  await until('resubscribed', () => subscribed.length === 2);
  await until(`${missed} recovered publications (have ${pubs.length - 1})`, () => pubs.length >= missed + 1);
  await new Promise((r) => setTimeout(r, 300)); // room for a duplicate to show up
  // Still live after the recovery.
  await publish({ n: missed + 1 });
  await until('a live publication after recovery', () => pubs.length >= missed + 2);
  client.disconnect();
  return {
    transport: connectedCtx.transport,
    connectedClient: typeof connectedCtx.client,
    first,
    stateWhileGone,
    subscribed,
    pubs,
    log,
  };
}

function assertRecovered(r, missed) {
  assert.equal(r.transport, 'websocket');
  assert.equal(r.subscribed.length, 2, JSON.stringify(r.subscribed));
  const [initial, again] = r.subscribed;
  assert.equal(initial.wasRecovering, false, JSON.stringify(initial));
  assert.equal(initial.recoverable, true, `force_recovery: ${JSON.stringify(initial)}`);
  assert.equal(again.wasRecovering, true, JSON.stringify(again));
  assert.equal(again.recovered, true, JSON.stringify(again));
  assert.equal(again.streamPosition?.epoch, initial.streamPosition?.epoch, 'same epoch');
  const ns = r.pubs.map((p) => p.data.n);
  const want = Array.from({ length: missed + 2 }, (_, i) => i);
  assert.deepEqual(ns, want, 'the first, the missed ones once each in order, then a live one');
  // Offsets go on by one from the first publication's.
  const base = r.pubs[0].offset;
  assert.equal(base, r.first.offset, 'the offset the API reported');
  assert.deepEqual(r.pubs.map((p) => p.offset), want.map((i) => base + i), 'offsets consecutive');
}

async function run(server, { expectProtocol, missed = 50 }) {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  try {
    // Any page of the server's origin will do; /healthz is plain text and
    // opens no connection of its own.
    const response = await page.goto(`${server.origin}/healthz`);
    assert.equal(response.status(), 200);
    assert.equal(
      await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol),
      expectProtocol,
    );
    await page.addScriptTag({ content: CENTRIFUGE_JS });
    assert.equal(await page.evaluate(() => typeof Centrifuge), 'function', 'dist/centrifuge.js sets window.Centrifuge');
    const channel = `chat:browser-${randomBytes(4).toString('hex')}`;
    await page.exposeFunction('publish', (data) => apiPublish(server, channel, data));
    const wsUrl = `${server.tls ? 'wss' : 'ws'}://127.0.0.1:${server.port}/connection/websocket`;
    const r = await page.evaluate(recoveryInPage, { url: wsUrl, token: userToken('browser'), channel, missed });
    assert.deepEqual(problems, [], 'no script errors on the page');
    return r;
  } finally {
    await page.close();
  }
}

const report = (what, data) => console.log(`${what}: ${JSON.stringify(data)}`);

function summary(r) {
  return {
    transport: r.transport,
    subscribed: r.subscribed,
    stateWhileGone: r.stateWhileGone,
    received: r.pubs.length,
    offsets: `${r.pubs[0]?.offset}..${r.pubs.at(-1)?.offset}`,
    log: r.log,
  };
}

describe(`centrifuge-js ${CENTRIFUGE_VERSION} in Chromium`, () => {
  test('recovery over WebSocket on HTTP/1.1 (ws://, Upgrade): 50 missed, recovered once each in order', T, async () => {
    const before = await plain.stats();
    const r = await run(plain, { expectProtocol: 'http/1.1' });
    const after = await plain.stats();
    const delta = {
      h1_upgrades: after.h1_upgrades - before.h1_upgrades,
      extended_connects: after.extended_connects - before.extended_connects,
    };
    report('centrifuge-js over HTTP/1.1', { ...summary(r), stats: delta });
    assertRecovered(r, 50);
    assert.equal(delta.h1_upgrades, 2, 'two WebSockets by HTTP/1.1 Upgrade: the first connection and the reconnect');
    assert.equal(delta.extended_connects, 0);
  });

  test('recovery over WebSocket on HTTP/2 (wss://, RFC 8441 extended CONNECT): 50 missed, recovered once each in order', T, async () => {
    const before = await tls.stats();
    const r = await run(tls, { expectProtocol: 'h2' });
    const after = await tls.stats();
    const delta = {
      h1_upgrades: after.h1_upgrades - before.h1_upgrades,
      extended_connects: after.extended_connects - before.extended_connects,
    };
    report('centrifuge-js over HTTP/2', { ...summary(r), stats: delta });
    assertRecovered(r, 50);
    assert.equal(delta.h1_upgrades, 0, 'no HTTP/1.1 upgrade: the WebSockets went over HTTP/2');
    assert.equal(delta.extended_connects, 2, 'two RFC 8441 extended CONNECTs: the first connection and the reconnect');
  });
});
