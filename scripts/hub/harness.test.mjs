// The harness itself: JWT signing against a published known answer, and
// starting/stopping `pushwire serve` on a free loopback port.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt, HMAC_SECRET, Server, signJwt, userToken } from './harness.mjs';

test('HS256 signing matches the well-known jwt.io example', () => {
  // Header {"alg":"HS256","typ":"JWT"}, secret "your-256-bit-secret".
  const want =
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.' +
    'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.' +
    'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
  const got = signJwt({ sub: '1234567890', name: 'John Doe', iat: 1516239022 }, 'your-256-bit-secret');
  assert.equal(got, want);
  const d = decodeJwt(got, 'your-256-bit-secret');
  assert.equal(d.valid, true);
  assert.equal(decodeJwt(got, 'another secret').valid, false);
});

test('user tokens carry sub and exp and verify with the configured secret', () => {
  const t = userToken(42, { ttl: 60, info: { name: 'x' } });
  const { header, payload, valid } = decodeJwt(t, HMAC_SECRET);
  assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
  assert.equal(valid, true);
  assert.equal(payload.sub, '42');
  assert.deepEqual(payload.info, { name: 'x' });
  const left = payload.exp - Math.floor(Date.now() / 1000);
  assert.ok(left > 55 && left <= 60, `exp in ${left}s`);
  assert.ok(userToken(1, { ttl: -10 }).split('.').length === 3);
});

test('the harness starts pushwire serve on a free loopback port and stops it', async () => {
  const server = await Server.start({ config: null });
  try {
    assert.ok(server.serving, server.output());
    assert.match(server.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
  } finally {
    await server.stop();
  }
  const { code, signal } = await server.exited;
  assert.ok(code !== null || signal !== null);
});

test('the HTTP/2 WebSocket constructor opens an extended CONNECT stream (against /echo)', async () => {
  const { http2WebSocket } = await import('./harness.mjs');
  const server = await Server.start({ config: null });
  try {
    const H2 = http2WebSocket();
    const ws = new H2(`ws://127.0.0.1:${server.port}/echo`);
    const echoed = await new Promise((ok, fail) => {
      ws.onopen = () => ws.send('over h2');
      ws.onmessage = (e) => ok(String(e.data));
      ws.onerror = (e) => fail(new Error(e.message));
      setTimeout(() => fail(new Error('no echo in 5 s')), 5000).unref();
    });
    assert.equal(echoed, 'over h2');
    assert.equal(H2.stats.opened, 1);
    ws.terminate();
  } finally {
    await server.stop();
  }
});
