// Harness for the many-nodes drills: real `redis-server` processes (one,
// several, or a three-master Redis Cluster) on free loopback ports without
// persistence, `pushwire serve` nodes configured with the Redis engine, and
// a small TCP failover proxy standing in for a load balancer in front of
// the nodes. Everything about `pushwire serve` itself (start, the server
// API, tokens, centrifuge-js clients) comes from the hub's harness,
// scripts/hub/harness.mjs, which this file imports rather than copies.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { baseConfig, freePort, Server, until } from '../hub/harness.mjs';

export * from '../hub/harness.mjs';

// centrifuge-js and `ws` as installed for the hub's tests (scripts/hub/node_modules).
const requireHub = createRequire(new URL('../hub/harness.mjs', import.meta.url));
/** The unmodified centrifuge-js client class (npm `centrifuge`). */
export const { Centrifuge } = requireHub('centrifuge');
/** The `ws` package's WebSocket, for centrifuge-js in Node. */
export const WebSocket = requireHub('ws');
/** The `eventsource` package's EventSource, for centrifuge-js's `sse` transport. */
export const { EventSource } = requireHub('eventsource');

const run = promisify(execFile);
const TMP = process.env.DRILLS_TMP || tmpdir();

// ---------------------------------------------------------------------------
// Redis

/** A `redis-server` on a loopback port, no RDB, no AOF: a restart loses everything. */
export class Redis {
  /** Starts one; `cluster: true` enables cluster mode; `port` reuses an address. */
  static async start({ port, cluster = false } = {}) {
    port ??= await freePort();
    const dir = await mkdtemp(join(TMP, 'redis-'));
    const r = new Redis(port, dir, cluster);
    await r.#spawn();
    return r;
  }

  constructor(port, dir, cluster) {
    this.port = port;
    this.dir = dir;
    this.cluster = cluster;
    this.address = `127.0.0.1:${port}`;
    this.child = null;
    this.lines = [];
  }

  async #spawn() {
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--protected-mode', 'no',
      '--loglevel', 'warning',
    ];
    if (this.cluster) {
      // The bus port is the client port + 10000 unless named: past 55535
      // (free ports come from the ephemeral range) that would not exist.
      while (!this.busPort || this.busPort === this.port) this.busPort = await freePort();
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(this.dir, 'nodes.conf'),
        '--cluster-node-timeout', '2000', '--cluster-port', String(this.busPort));
    }
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const keep = (chunk) => {
      this.lines.push(...chunk.toString().split('\n').filter(Boolean));
      if (this.lines.length > 200) this.lines.splice(0, this.lines.length - 200);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let exited = null;
    this.exited.then((e) => (exited = e));
    try {
      await until(async () => {
        if (exited) throw new Error(`redis-server exited early ${JSON.stringify(exited)}:\n${this.lines.join('\n')}`);
        return (await this.cli('PING').catch(() => '')) === 'PONG';
      }, { timeoutMs: 10000, what: `redis-server on ${this.port}` });
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
  }

  /** `redis-cli -p PORT args…`; resolves to its trimmed output. */
  async cli(...args) {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args], {
      timeout: 5000,
    });
    return stdout.trim();
  }

  /** SIGKILL: Redis is gone at once, as after a crash. */
  async kill() {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** A fresh redis-server on the same port; with no persistence, it is empty. */
  async restart() {
    await this.kill();
    await this.#spawn();
  }

  /** SIGSTOP: the process holds its sockets and answers nothing. */
  pause() {
    this.child.kill('SIGSTOP');
  }

  /** SIGCONT after `pause`. */
  resume() {
    this.child.kill('SIGCONT');
  }

  async stop() {
    if (this.child) {
      this.child.kill('SIGCONT');
      await this.kill();
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Redis Cluster of `masters` masters and no replicas, made with
 * `redis-cli --cluster create`; resolves once every node says `cluster_state:ok`.
 */
export async function redisCluster(masters = 3) {
  const nodes = [];
  try {
    for (let i = 0; i < masters; i++) nodes.push(await Redis.start({ cluster: true }));
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => n.address),
      '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30000 });
    await until(async () => {
      for (const n of nodes) {
        if (!(await n.cli('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      }
      return true;
    }, { timeoutMs: 20000, what: 'cluster_state:ok on every node', every: 100 });
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw e;
  }
  return {
    nodes,
    addresses: nodes.map((n) => n.address),
    stop: () => Promise.all(nodes.map((n) => n.stop())),
  };
}

// ---------------------------------------------------------------------------
// pushwire nodes

/**
 * The hub's base config on the Redis engine: `redis` is the
 * `engine.redis` object (e.g. `{address: '127.0.0.1:PORT'}` or
 * `{cluster_address: [...]}`). Adds the namespace `drill`: history of
 * 20,000 for 300 s, forced recovery, presence; and lets a recovery
 * return up to 20,000 publications (Centrifugo's default, 300, would make
 * a client that missed more during a failover start over with
 * `recovered: false`, as it should).
 */
export function redisConfig(redis) {
  const c = baseConfig();
  c.client.recovery_max_publication_limit = 20000;
  c.engine = { type: 'redis', redis: { io_timeout: '1s', connect_timeout: '1s', ...redis } };
  c.channel.namespaces.push({
    name: 'drill',
    allow_subscribe_for_client: true,
    allow_publish_for_subscriber: true,
    allow_presence_for_subscriber: true,
    allow_history_for_subscriber: true,
    presence: true,
    history_size: 20000,
    history_ttl: '300s',
    force_recovery: true,
  });
  return c;
}

/** `count` `pushwire serve` nodes sharing the engine `redis` (see `redisConfig`). */
export async function startNodes(count, redis) {
  const nodes = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await Server.start({ config: redisConfig(redis) }));
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw e;
  }
  return nodes;
}

/** SIGKILL a node (no goodbye to Redis, its clients or anyone). */
export async function killNode(server) {
  server.child.kill('SIGKILL');
  await server.exited;
}

// ---------------------------------------------------------------------------
// A failover proxy (what a load balancer does for the drills)

/**
 * A TCP proxy on a free loopback port: each connection goes to the first
 * of `upstreams` (ports) that accepts it, so once a node is dead its
 * clients land on the next one. `connections` counts, per upstream port,
 * the connections it carried; `log` what happened to them, with times.
 */
export async function failoverProxy(upstreams) {
  const connections = new Map();
  const log = [];
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    client.pause();
    const attempt = (i) => {
      if (i >= upstreams.length) {
        client.destroy();
        return;
      }
      const up = net.connect({ host: '127.0.0.1', port: upstreams[i] });
      let open = false;
      up.once('error', () => {
        if (!open) attempt(i + 1);
      });
      up.once('connect', () => {
        open = true;
        connections.set(upstreams[i], (connections.get(upstreams[i]) ?? 0) + 1);
        sockets.add(up);
        up.on('end', () => log.push({ at: Date.now(), what: `end from ${upstreams[i]}` }));
        up.on('error', (e) => log.push({ at: Date.now(), what: `${e.code} from ${upstreams[i]}` }));
        up.on('close', () => {
          log.push({ at: Date.now(), what: `closed ${upstreams[i]}` });
          sockets.delete(up);
          client.destroy();
        });
        up.on('error', () => up.destroy());
        client.on('close', () => up.destroy());
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    connections,
    log,
    close: () =>
      new Promise((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

// ---------------------------------------------------------------------------
// Checks

/**
 * Asserts that `got` (data received, in arrival order) is exactly `want`
 * (data published, in offset order): no loss, no duplicate, no reordering.
 * Throws naming the first difference.
 */
export function assertExactlyOnceInOrder(got, want, what = 'publications') {
  const seen = new Set();
  const dups = [];
  for (const g of got) {
    if (seen.has(g)) dups.push(g);
    seen.add(g);
  }
  const missing = want.filter((w) => !seen.has(w));
  if (dups.length || missing.length || got.length !== want.length) {
    throw new Error(`${what}: got ${got.length}, want ${want.length}; ` +
      `${dups.length} duplicated (first ${JSON.stringify(dups.slice(0, 5))}), ` +
      `${missing.length} missing (first ${JSON.stringify(missing.slice(0, 5))})`);
  }
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      throw new Error(`${what}: out of order at ${i}: got ${JSON.stringify(got[i])}, want ${JSON.stringify(want[i])}`);
    }
  }
}

/** Prints a figure for the report (shown by node --test as a diagnostic line). */
export function figure(t, text) {
  t.diagnostic(`figure: ${text}`);
}

// ---------------------------------------------------------------------------
// Publishing at a rate

/**
 * Publishes `{n: i}` into `channel` through `node`'s server API at `rate`
 * publications/s for `ms` milliseconds: every `tick` ms one `batch` call
 * carrying the publications due by then, at most `inFlight` calls at once.
 * Resolves to `{results, failures, elapsed}`: `results` holds
 * `{n, offset, epoch}` per publication that succeeded, `failures` the
 * errors. `onTick(elapsed)` runs before each call.
 */
export async function publishAtRate(node, channel, { rate = 1000, ms = 1000, tick = 10, inFlight = 8, onTick } = {}) {
  const total = Math.round((rate * ms) / 1000);
  const results = [];
  const failures = [];
  const calls = new Set();
  const start = Date.now();
  let n = 0;
  while (n < total) {
    const elapsed = Date.now() - start;
    const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1);
    onTick?.(elapsed);
    if (due > n && calls.size < inFlight) {
      const first = n;
      const commands = [];
      for (; n < due; n++) commands.push({ publish: { channel, data: { n } } });
      const call = node
        .api('batch', { commands })
        .then((res) => {
          const replies = res.json?.replies;
          if (res.status !== 200 || !Array.isArray(replies) || replies.length !== commands.length) {
            failures.push(`batch from ${first}: ${res.status} ${res.text.slice(0, 200)}`);
            return;
          }
          replies.forEach((r, k) => {
            // Centrifugo's batch answer: each reply named by its method.
            const ok = r.publish ?? r.result;
            if (ok && !r.error) results.push({ n: first + k, offset: ok.offset, epoch: ok.epoch });
            else failures.push(`${first + k}: ${JSON.stringify(r.error ?? r)}`);
          });
        })
        .catch((e) => failures.push(`batch from ${first}: ${e.message}`))
        .finally(() => calls.delete(call));
      calls.add(call);
    }
    await new Promise((r) => setTimeout(r, tick));
  }
  await Promise.all([...calls]);
  return { results, failures, elapsed: Date.now() - start, total };
}
