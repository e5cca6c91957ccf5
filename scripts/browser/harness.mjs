// Test harness: starts `pushwire serve` on a free port, launches Debian
// Chromium through playwright-core with a fresh profile, and talks to the
// server from Node (healthz, stats, endpoint probes).

import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const PUSHWIRE_BIN = resolve(here, process.env.PUSHWIRE_BIN || '../../target/debug/pushwire');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

/**
 * One request from Node. For TLS the server's own certificate is the only CA.
 * With `peek`, resolves as soon as the status is known and drops the body
 * (for endpoints that stream forever, like /sse).
 */
export function request(url, { method = 'GET', headers = {}, body, ca, peek = false, timeoutMs = 5000 } = {}) {
  return new Promise((ok, fail) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(u, { method, headers, ca, agent: false, timeout: timeoutMs }, (res) => {
      if (peek) {
        ok({ status: res.statusCode, headers: res.headers, body: '' });
        res.destroy();
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: text }));
      res.on('error', fail);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', fail);
    req.end(body);
  });
}

/**
 * A running `pushwire serve`; `stop()` ends it. `env` adds variables (the
 * hub's config keys: `PUSHWIRE_CLIENT_PING_INTERVAL=1s`, …).
 */
export class Server {
  static async start({ tls = false, port, args: extra = [], env = {} } = {}) {
    port ??= await freePort();
    const args = ['serve', '--listen', `127.0.0.1:${port}`, ...extra];
    let certDir = null;
    if (tls) {
      certDir = await mkdtemp(join(tmpdir(), 'pushwire-cert-'));
      args.push('--tls-self-signed', '--write-cert', join(certDir, 'cert.pem'));
    }
    const child = spawn(PUSHWIRE_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', RUST_LOG: process.env.RUST_LOG || 'info', ...env },
    });
    const server = new Server(child, port, tls, certDir);
    try {
      await server.#waitHealthy(15000);
    } catch (e) {
      await server.stop();
      throw new Error(`${e.message}\n--- pushwire output ---\n${server.output()}`);
    }
    return server;
  }

  constructor(child, port, tls, certDir) {
    this.child = child;
    this.port = port;
    this.tls = tls;
    this.certDir = certDir;
    this.origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.certPem = null;
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    this.lines = [];
    this.loggedApiKey = undefined;
    const keep = (chunk) => {
      const lines = chunk.toString().split('\n').filter(Boolean);
      for (const line of lines) this.loggedApiKey ??= /X-API-Key: ([0-9a-f]+)/.exec(line)?.[1];
      this.lines.push(...lines);
      if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 400);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
  }

  /** The last lines pushwire printed, for failure messages. */
  output() {
    return this.lines.join('\n');
  }

  async #waitHealthy(ms) {
    const deadline = Date.now() + ms;
    let exited = null;
    this.exited.then((e) => (exited = e));
    let last = null;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`pushwire exited early (${JSON.stringify(exited)})`);
      try {
        if (this.tls && !this.certPem) this.certPem = await readFile(join(this.certDir, 'cert.pem'), 'utf8');
        const res = await request(`${this.origin}/healthz`, { ca: this.certPem ?? undefined, timeoutMs: 1000 });
        if (res.status === 200) return;
        last = `healthz answered ${res.status}`;
      } catch (e) {
        last = e.message;
      }
      await sleep(50);
    }
    throw new Error(`pushwire not healthy at ${this.origin} within ${ms} ms: ${last}`);
  }

  /** base64(sha256(SubjectPublicKeyInfo)) of the TLS certificate, for Chromium's SPKI list. */
  spkiHash() {
    const der = new X509Certificate(this.certPem).publicKey.export({ type: 'spki', format: 'der' });
    return createHash('sha256').update(der).digest('base64');
  }

  request(path, options = {}) {
    return request(this.origin + path, { ca: this.certPem ?? undefined, ...options });
  }

  /**
   * The server API key that `pushwire serve` without --config generates and
   * prints at start (`… X-API-Key: <hex>`).
   */
  devApiKey() {
    if (this.loggedApiKey) return this.loggedApiKey;
    throw new Error(`no X-API-Key in pushwire's startup log:\n${this.output()}`);
  }

  /** `POST /api/<method>` with `X-API-Key`; resolves with the parsed JSON answer. */
  async api(method, params, key = this.devApiKey()) {
    const res = await this.request(`/api/${method}`, {
      method: 'POST',
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify(params),
    });
    if (res.status !== 200) throw new Error(`POST /api/${method}: ${res.status} ${res.body}`);
    return JSON.parse(res.body);
  }

  async stats() {
    const res = await this.request('/stats');
    if (res.status !== 200) throw new Error(`/stats answered ${res.status}`);
    return JSON.parse(res.body);
  }

  /** Whether `path` is served at all: false when the server answers 404. */
  async serves(path) {
    const res = await this.request(path, { peek: true });
    return res.status !== 404;
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const done = await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    if (this.certDir) await rm(this.certDir, { recursive: true, force: true });
  }
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/**
 * Debian Chromium with a new, empty user-data-dir. `spki` lists base64
 * SHA-256 hashes of public keys Chromium must trust (self-signed test certs).
 * Returns a persistent context; `close()` also removes the profile.
 */
export async function launchChromium({ spki = [], env } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'pushwire-chromium-'));
  const args = [...CHROMIUM_ARGS];
  if (spki.length) args.push(`--ignore-certificate-errors-spki-list=${spki.join(',')}`);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    env: env ?? process.env,
    timeout: 30000,
  });
  const close = context.close.bind(context);
  context.close = async () => {
    await close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  };
  return context;
}
