// A page keeps every publication across a server restart (SIGHUP) while a
// backend keeps publishing through the server API: pushwire.js in
// Chromium, subscribed with recovery, against `pushwire serve` on a real
// `redis-server` (engine.type = "redis"), where history outlives the
// process. (On the in-memory engine a restart starts a new stream; the
// page is then told so: see pushwire.test.mjs and chat.test.mjs.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, launchChromium, Server } from './harness.mjs';

/** A `redis-server` on a loopback port, nothing saved to disk. */
async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const ready = new Promise((ok, fail) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) ok();
    });
    child.once('exit', (code) => fail(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  await Promise.race([ready, sleep(10000).then(() => Promise.reject(new Error(`redis-server not ready:\n${output}`)))]);
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

test('a page keeps every publication once, in order, across a SIGHUP restart on Redis', { timeout: 60000 }, async () => {
  const redis = await startRedis();
  const env = {
    PUSHWIRE_ENGINE_TYPE: 'redis',
    PUSHWIRE_ENGINE_REDIS_ADDRESS: redis.url,
    PUSHWIRE_HTTP_API_KEY: 'restart-test-key',
  };
  let server = await Server.start({ env });
  const port = server.port;
  const browser = await launchChromium();
  const channel = `chat:restart-${Date.now().toString(36)}`;
  let publishing = true;
  const accepted = [];
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(20000);
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${server.origin}/`);
    await page.evaluate(async (channel) => {
      const { Client } = await import('/pushwire.js');
      window.received = [];
      window.subscribed = [];
      const client = new Client('/', { minReconnectDelay: 200, maxReconnectDelay: 1000 });
      const sub = client.newSubscription(channel);
      sub.on('publication', (p) => window.received.push(p.data.n));
      sub.on('subscribed', (s) => window.subscribed.push({ wasRecovering: s.wasRecovering, recovered: s.recovered }));
      sub.subscribe();
      client.connect();
      window.client = client;
    }, channel);
    await page.waitForFunction(() => window.subscribed.length === 1);

    // The backend publishes 20 per second, and keeps going: what the API
    // accepted (answered with an offset) is what the page must end with.
    const publisher = (async () => {
      for (let n = 1; publishing; n++) {
        try {
          const answer = await server.api('publish', { channel, data: { n } }, 'restart-test-key');
          if (answer.result) accepted.push(n);
        } catch {
          // The server is restarting: this one was not accepted.
        }
        await sleep(50);
      }
    })();
    await page.waitForFunction(() => window.received.length >= 20);

    server.child.kill('SIGHUP');
    await server.exited;
    await server.stop();
    server = await Server.start({ env, port });
    await page.waitForFunction(() => window.subscribed.length === 2, null, { timeout: 30000 });
    await sleep(1000);
    publishing = false;
    await publisher;
    const last = accepted[accepted.length - 1];
    await page.waitForFunction((last) => window.received.includes(last), last);

    const { received, subscribed } = await page.evaluate(() => ({ received: window.received, subscribed: window.subscribed }));
    assert.deepEqual(subscribed[1], { wasRecovering: true, recovered: true }, 'recovered from Redis after the restart');
    assert.ok(accepted.length >= 40, `publications before and after the restart (${accepted.length})`);
    assert.deepEqual(received, accepted, 'every accepted publication, once each, in order');
    assert.deepEqual(problems, []);
  } finally {
    publishing = false;
    await browser.close();
    await server.stop();
    redis.stop();
  }
});
