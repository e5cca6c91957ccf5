// Test harness for the hub: starts `pushwire serve` on a free loopback port
// with a generated Centrifugo-style config file, waits until it listens,
// mints HS256 JWTs with Node's crypto, calls the server API, and builds
// unmodified centrifuge-js clients (npm `centrifuge`) on the `ws` package.

import { spawn } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
export const PUSHWIRE_BIN = resolve(here, process.env.PUSHWIRE_BIN || '../../target/debug/pushwire');

export const HMAC_SECRET = 'hub-test-secret-' + randomBytes(16).toString('hex');
export const API_KEY = 'hub-test-api-key-' + randomBytes(8).toString('hex');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// JWT (HS256/384/512), signed with Node's crypto: no extra dependency.

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const HMAC_ALGS = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** A compact JWS over `claims` (an object), HMAC-signed with `secret`. */
export function signJwt(claims, secret = HMAC_SECRET, alg = 'HS256', header = { alg, typ: 'JWT' }) {
  const hash = HMAC_ALGS[alg];
  if (!hash) throw new Error(`signJwt: ${alg} is not an HMAC algorithm`);
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

/**
 * Decodes a compact JWS; with `secret`, also checks its HMAC signature
 * (`valid`). Throws on anything that is not three base64url parts of JSON.
 */
export function decodeJwt(token, secret) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('decodeJwt: not three parts');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  let valid;
  if (secret !== undefined) {
    const hash = HMAC_ALGS[header.alg];
    const want = createHmac(hash, secret).update(`${parts[0]}.${parts[1]}`).digest();
    const got = Buffer.from(parts[2], 'base64url');
    valid = got.length === want.length && timingSafeEqual(got, want);
  }
  return { header, payload, valid };
}

const now = () => Math.floor(Date.now() / 1000);

/** A connection token for `user`, valid `ttl` seconds (negative: already expired). */
export function userToken(user, { ttl = 3600, ...claims } = {}) {
  return signJwt({ sub: String(user), exp: now() + ttl, iat: now(), ...claims });
}

/** A subscription token for `user` on `channel`. */
export function subToken(user, channel, { ttl = 3600, ...claims } = {}) {
  return signJwt({ sub: String(user), channel, exp: now() + ttl, iat: now(), ...claims });
}

// ---------------------------------------------------------------------------
// Config

/** Permissions a subscriber of a test namespace gets. */
const OPEN = {
  allow_subscribe_for_client: true,
  allow_publish_for_subscriber: true,
  allow_presence_for_subscriber: true,
  allow_history_for_subscriber: true,
};

/**
 * The config every test file starts from, with Centrifugo v6 key names.
 * Namespaces:
 * - `chat`: presence, join/leave pushed to all, history (1000, 300s), recovery;
 * - `short`: history that expires after 2 s, recovery;
 * - `plain`: subscribe only, no history, no presence;
 * - `locked`: nothing allowed without a subscription token (→ 103).
 */
export function baseConfig() {
  return {
    client: {
      token: { hmac_secret_key: HMAC_SECRET },
      allow_anonymous_connect_without_token: false,
      allowed_origins: [],
      ping_interval: '25s',
    },
    http_api: { key: API_KEY },
    channel: {
      without_namespace: { ...OPEN },
      namespaces: [
        {
          name: 'chat',
          ...OPEN,
          presence: true,
          join_leave: true,
          force_push_join_leave: true,
          history_size: 1000,
          history_ttl: '300s',
          force_recovery: true,
        },
        {
          name: 'short',
          ...OPEN,
          history_size: 100,
          history_ttl: '2s',
          force_recovery: true,
        },
        { name: 'plain', allow_subscribe_for_client: true },
        { name: 'locked' },
      ],
    },
  };
}

// ---------------------------------------------------------------------------
// The server

/** A TCP port nobody listens on right now. */
export async function freePort() {
  return new Promise((ok, fail) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => ok(port));
    });
  });
}

function canConnect(port) {
  return new Promise((ok) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });
}

/** A running `pushwire serve`; `stop()` ends it. */
export class Server {
  /**
   * Starts `pushwire serve --listen 127.0.0.1:PORT --config FILE.json`.
   * `config: null` starts it without a config file; `env` adds variables;
   * `port` reuses a port (a restart on the same address).
   */
  static async start({ config = baseConfig(), env = {}, args: extra = [], timeoutMs = 15000, port } = {}) {
    port ??= await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'pushwire-hub-'));
    const args = ['serve', '--listen', `127.0.0.1:${port}`];
    if (config) {
      const file = join(dir, 'config.json');
      await writeFile(file, JSON.stringify(config, null, 2));
      args.push('--config', file);
    }
    args.push(...extra);
    const child = spawn(PUSHWIRE_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', RUST_LOG: process.env.RUST_LOG || 'info', ...env },
    });
    const server = new Server(child, port, dir, config);
    try {
      await server.#waitServing(timeoutMs);
    } catch (e) {
      await server.stop();
      throw new Error(`${e.message}\n--- pushwire ${args.join(' ')} ---\n${server.output()}`);
    }
    return server;
  }

  constructor(child, port, dir, config) {
    this.child = child;
    this.port = port;
    this.dir = dir;
    this.config = config;
    this.apiKey = config?.http_api?.key ?? null;
    this.origin = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}/connection/websocket`;
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    this.lines = [];
    this.serving = false;
    const keep = (chunk) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        if (line.includes('serving')) this.serving = true;
        this.lines.push(line);
      }
      if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 400);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
  }

  /** The last lines pushwire printed, for failure messages. */
  output() {
    return this.lines.join('\n');
  }

  async #waitServing(ms) {
    const deadline = Date.now() + ms;
    let exited = null;
    this.exited.then((e) => (exited = e));
    while (Date.now() < deadline) {
      if (exited) throw new Error(`pushwire exited early (${JSON.stringify(exited)})`);
      if (this.serving && (await canConnect(this.port))) return;
      await sleep(25);
    }
    throw new Error(`pushwire did not print "serving" and listen on ${this.port} within ${ms} ms`);
  }

  /**
   * `POST /api/<method>` with `X-API-Key` (the configured key unless `key`
   * is given; `key: null` sends none). Resolves to `{status, text, json}`;
   * `json` is undefined when the body is not JSON.
   */
  async api(method, body = {}, { key = this.apiKey, headers = {}, timeoutMs = 5000 } = {}) {
    const h = { 'Content-Type': 'application/json', ...headers };
    if (key !== null && key !== undefined) h['X-API-Key'] = key;
    const res = await fetch(`${this.origin}/api/${method}`, {
      method: 'POST',
      headers: h,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }

  /** The `result` of an API call; throws with the whole answer otherwise. */
  async call(method, body = {}) {
    const res = await this.api(method, body);
    if (res.status !== 200 || !res.json || !('result' in res.json)) {
      throw new Error(`/api/${method} ${JSON.stringify(body)} → ${res.status} ${res.text}`);
    }
    return res.json.result;
  }

  /** Publishes `data` into `channel` through the server API; returns the result. */
  publish(channel, data, extra = {}) {
    return this.call('publish', { channel, data, ...extra });
  }

  /**
   * An unmodified centrifuge-js client for this server, over the `ws`
   * package (Node 20 has no global WebSocket). Short reconnect delays so
   * tests stay quick; everything else is the SDK's default.
   */
  client(options = {}) {
    const c = new Centrifuge(this.wsUrl, {
      websocket: WebSocket,
      minReconnectDelay: 100,
      maxReconnectDelay: 1000,
      ...options,
    });
    return c;
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      let timer;
      const done = await Promise.race([
        this.exited.then(() => true),
        new Promise((r) => (timer = setTimeout(() => r(false), 5000))),
      ]);
      clearTimeout(timer);
      if (!done) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// WebSocket over HTTP/2 (RFC 8441 extended CONNECT), for centrifuge-js

/**
 * A WebSocket constructor for centrifuge-js's `websocket` option that opens
 * each socket as an RFC 8441 extended CONNECT stream on its own h2c
 * connection (HTTP/2 with prior knowledge). Node's http2 client sends the
 * `:protocol` pseudo-header once the server's SETTINGS enable it; the
 * WebSocket framing on the stream is the `ws` package's own, so the SDK
 * sees an ordinary `ws` socket. `opened` counts the streams whose CONNECT
 * got a 200, for the tests to check HTTP/2 was really used.
 */
export function http2WebSocket() {
  const stats = { opened: 0, refused: [] };
  function H2WebSocket(url) {
    const u = new URL(url);
    const ws = new WebSocket(null, undefined, { autoPong: true });
    ws._isServer = false; // a client: mask what it sends, expect unmasked frames
    const fail = (why) => {
      stats.refused.push(String(why));
      if (ws.readyState !== WebSocket.CONNECTING) return;
      ws.emit('error', new Error(String(why)));
      ws.emitClose();
    };
    const session = http2.connect(`http://${u.host}`);
    session.on('error', (e) => fail(e.message));
    session.once('remoteSettings', (settings) => {
      if (!settings.enableConnectProtocol) {
        session.close();
        fail('the server does not enable the extended CONNECT protocol');
        return;
      }
      const stream = session.request(
        {
          ':method': 'CONNECT',
          ':protocol': 'websocket',
          ':scheme': 'http',
          ':path': u.pathname + u.search,
          ':authority': u.host,
          'sec-websocket-version': '13',
        },
        { endStream: false },
      );
      stream.on('close', () => session.close());
      stream.once('error', (e) => fail(e.message));
      stream.once('response', (headers) => {
        if (headers[':status'] !== 200) {
          stream.close();
          fail(`extended CONNECT answered ${headers[':status']}`);
          return;
        }
        stats.opened += 1;
        ws.setSocket(stream, Buffer.alloc(0), { maxPayload: 100 << 20, allowSynchronousEvents: true });
      });
    });
    const close = ws.close.bind(ws);
    ws.close = (...args) => {
      if (ws.readyState === WebSocket.CONNECTING) {
        session.destroy();
        fail('closed while connecting');
        return;
      }
      close(...args);
    };
    return ws;
  }
  H2WebSocket.stats = stats;
  return H2WebSocket;
}

// ---------------------------------------------------------------------------
// Waiting

/**
 * Resolves with the arguments of the next `event` on `emitter` whose first
 * argument passes `filter`; rejects after `timeoutMs` naming what it waited for.
 */
export function next(emitter, event, { filter = () => true, timeoutMs = 5000 } = {}) {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      fail(new Error(`no "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    function on(ctx, ...rest) {
      if (!filter(ctx)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      ok(rest.length ? [ctx, ...rest] : ctx);
    }
    emitter.on(event, on);
  });
}

/** Every `event` of `emitter` from now on, in an array that grows. */
export function record(emitter, event) {
  const seen = [];
  emitter.on(event, (ctx) => seen.push(ctx));
  return seen;
}

/** Polls `cond` until it is truthy; rejects after `timeoutMs` with `what`. */
export async function until(cond, { timeoutMs = 5000, what = 'condition', every = 20 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** Connects `client` and resolves once it is connected (rejects on disconnected). */
export async function connected(client, timeoutMs = 5000) {
  const done = new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`not connected within ${timeoutMs} ms`)), timeoutMs);
    client.once('connected', (ctx) => {
      clearTimeout(timer);
      ok(ctx);
    });
    client.once('disconnected', (ctx) => {
      clearTimeout(timer);
      fail(new Error(`disconnected ${ctx.code} ${ctx.reason}`));
    });
  });
  client.connect();
  return done;
}

/** Subscribes `sub` and resolves with its `subscribed` context. */
export async function subscribed(sub, timeoutMs = 5000) {
  const done = next(sub, 'subscribed', { timeoutMs });
  sub.subscribe();
  return done;
}

/** A channel name no other test uses. */
let seq = 0;
export function channel(ns = '', stem = 't') {
  seq += 1;
  const name = `${stem}${seq}_${randomBytes(3).toString('hex')}`;
  return ns ? `${ns}:${name}` : name;
}
