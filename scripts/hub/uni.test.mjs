// Unidirectional transports with nothing but an HTTP client (what a plain
// EventSource or `curl -N` does): GET /connection/uni_sse?cf_connect=… over
// HTTP/1.1 and over HTTP/2 (h2c), and POST /connection/uni_http_stream. The
// token's `channels` become server-side subscriptions; publications made
// through the server API arrive as bare pushes.

import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { channel, Server, until, userToken } from './harness.mjs';

/** Splits a growing text/event-stream body into the JSON of its `data:` events. */
function sseEvents(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/).slice(0, -1)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data) out.push(JSON.parse(data));
  }
  return out;
}

/** Newline-delimited JSON (uni_http_stream); the last, partial line is left out. */
function ndjson(text) {
  return text
    .split('\n')
    .slice(0, -1)
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Opens a streaming HTTP/1.1 request; `body()` is what arrived so far. */
function stream(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((ok, fail) => {
    let text = '';
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('error', () => {});
      ok({ status: res.statusCode, headers: res.headers, text: () => text, close: () => req.destroy() });
    });
    req.on('error', fail);
    req.setTimeout(10000, () => req.destroy(new Error(`${url}: no answer`)));
    req.end(body);
  });
}

describe('unidirectional transports', () => {
  let server;
  before(async () => {
    server = await Server.start();
  });
  after(async () => {
    await server?.stop();
  });

  test('uni_sse over HTTP/1.1: connect push, then publications of the token channels', async () => {
    const ch = channel('chat', 'usse');
    const connect = { token: userToken('sse', { channels: [ch] }) };
    const url = `${server.origin}/connection/uni_sse?cf_connect=${encodeURIComponent(JSON.stringify(connect))}`;
    const res = await stream(url, { headers: { Accept: 'text/event-stream' } });
    try {
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^text\/event-stream/);
      await until(() => sseEvents(res.text()).length >= 1, { what: 'the connect push' });
      const [first] = sseEvents(res.text());
      assert.ok(first.connect?.client, JSON.stringify(first));
      assert.ok(first.connect.subs && ch in first.connect.subs, `server-side sub in ${JSON.stringify(first)}`);

      await server.publish(ch, { via: 'sse' });
      await until(() => sseEvents(res.text()).some((e) => e.pub), { what: 'a pub push' });
      const pub = sseEvents(res.text()).find((e) => e.pub);
      assert.equal(pub.channel, ch);
      assert.deepEqual(pub.pub.data, { via: 'sse' });
      assert.equal(pub.pub.offset, 1);
    } finally {
      res.close();
    }
  });

  test('uni_sse without cf_connect credentials ends with disconnect 3501', async () => {
    const url = `${server.origin}/connection/uni_sse?cf_connect=${encodeURIComponent('{}')}`;
    const res = await stream(url);
    try {
      await until(() => sseEvents(res.text()).length >= 1, { what: 'a disconnect push' });
      const [ev] = sseEvents(res.text());
      assert.equal(ev.disconnect?.code, 3501, JSON.stringify(ev));
    } finally {
      res.close();
    }
  });

  test('uni_http_stream: POST a ConnectRequest, read newline-delimited pushes', async () => {
    const ch = channel('chat', 'uhs');
    const res = await stream(`${server.origin}/connection/uni_http_stream`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: userToken('hs', { channels: [ch] }) }),
    });
    try {
      assert.equal(res.status, 200);
      await until(() => ndjson(res.text()).length >= 1, { what: 'the connect push' });
      assert.ok(ndjson(res.text())[0].connect?.client);
      await server.publish(ch, { via: 'http_stream' });
      await until(() => ndjson(res.text()).some((e) => e.pub), { what: 'a pub push' });
      const pub = ndjson(res.text()).find((e) => e.pub);
      assert.equal(pub.channel, ch);
      assert.deepEqual(pub.pub.data, { via: 'http_stream' });
    } finally {
      res.close();
    }
  });

  test('uni_sse over HTTP/2 (h2c with prior knowledge)', async () => {
    const ch = channel('chat', 'uh2');
    const connect = { token: userToken('h2', { channels: [ch] }) };
    const session = http2.connect(server.origin);
    session.on('error', () => {});
    try {
      const req = session.request({
        ':method': 'GET',
        ':path': `/connection/uni_sse?cf_connect=${encodeURIComponent(JSON.stringify(connect))}`,
        accept: 'text/event-stream',
      });
      let text = '';
      let headers;
      req.setEncoding('utf8');
      req.on('response', (h) => (headers = h));
      req.on('data', (c) => (text += c));
      req.on('error', () => {});
      await until(() => sseEvents(text).length >= 1, { what: 'the connect push over HTTP/2' });
      assert.equal(headers[':status'], 200);
      assert.match(headers['content-type'], /^text\/event-stream/);
      assert.ok(sseEvents(text)[0].connect?.client);
      await server.publish(ch, { via: 'h2' });
      await until(() => sseEvents(text).some((e) => e.pub), { what: 'a pub push over HTTP/2' });
      assert.deepEqual(sseEvents(text).find((e) => e.pub).pub.data, { via: 'h2' });
      req.close();
    } finally {
      session.destroy();
    }
  });
});
