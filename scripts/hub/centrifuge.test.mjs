// centrifuge-js (npm `centrifuge`, unmodified) in Node against a real
// `pushwire serve`: connect with an HS256 token, subscribe, server-API
// publications, presence, join/leave, history, recovery (and its failure
// after the history TTL), token refresh through getToken, and a forbidden
// channel.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  baseConfig,
  channel,
  connected,
  next,
  record,
  Server,
  sleep,
  subscribed,
  until,
  userToken,
} from './harness.mjs';

/** A `ws` WebSocket that keeps every frame the SDK sends, to count commands. */
function recordingWebSocket(sent) {
  return class extends WebSocket {
    send(data, ...rest) {
      sent.push(String(data));
      return super.send(data, ...rest);
    }
  };
}

/** The commands in recorded frames (frames carry `\n`-joined commands). */
const commands = (sent) => sent.flatMap((f) => f.split('\n').filter(Boolean).map((c) => JSON.parse(c)));

describe('centrifuge-js against pushwire serve', () => {
  let server;
  const clients = [];
  /** A client for user `user` with a token valid for an hour; closed after the suite. */
  const newClient = (user, options = {}) => {
    const c = server.client({ token: userToken(user), ...options });
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await Server.start();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  test('connects with an HS256 token', async () => {
    const c = newClient('alice');
    const ctx = await connected(c);
    assert.equal(ctx.transport, 'websocket');
    assert.equal(typeof ctx.client, 'string');
    assert.ok(ctx.client.length > 0, 'a client id');
    assert.equal(c.state, 'connected');
    c.disconnect();
  });

  test('a publication made through POST /api/publish arrives', async () => {
    const c = newClient('bob');
    await connected(c);
    const ch = channel('chat');
    const sub = c.newSubscription(ch);
    const s = await subscribed(sub);
    assert.equal(s.recoverable, true, 'chat has force_recovery');
    const arrived = next(sub, 'publication');
    const res = await server.api('publish', { channel: ch, data: { text: 'hello' }, tags: { kind: 'greeting' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result.offset, 1, res.text);
    assert.equal(typeof res.json.result.epoch, 'string', res.text);
    const pub = await arrived;
    assert.equal(pub.channel, ch);
    assert.deepEqual(pub.data, { text: 'hello' });
    assert.deepEqual(pub.tags, { kind: 'greeting' });
    assert.equal(pub.offset, 1);
    assert.equal(pub.info, undefined, 'no publisher info for a server-API publication');

    // A channel without a namespace, no history: the publication still arrives.
    const plain = channel('', 'room');
    const sub2 = c.newSubscription(plain);
    await subscribed(sub2);
    const arrived2 = next(sub2, 'publication');
    await server.publish(plain, { n: 2 });
    assert.deepEqual((await arrived2).data, { n: 2 });
    c.disconnect();
  });

  test('presence and presence_stats list the client', async () => {
    const ch = channel('chat', 'p');
    const a = newClient('carol');
    const { client: aId } = await connected(a);
    const sub = a.newSubscription(ch);
    await subscribed(sub);

    const p = await a.presence(ch);
    assert.deepEqual(Object.keys(p.clients), [aId]);
    assert.equal(p.clients[aId].user, 'carol');
    assert.equal(p.clients[aId].client, aId);
    assert.deepEqual(await a.presenceStats(ch), { numClients: 1, numUsers: 1 });

    // The same user on a second connection: two clients, one user.
    const b = newClient('carol');
    const { client: bId } = await connected(b);
    await subscribed(b.newSubscription(ch));
    const p2 = await a.presence(ch);
    assert.deepEqual(Object.keys(p2.clients).sort(), [aId, bId].sort());
    assert.deepEqual(await a.presenceStats(ch), { numClients: 2, numUsers: 1 });

    // The server API sees the same.
    const api = await server.call('presence', { channel: ch });
    assert.deepEqual(Object.keys(api.presence).sort(), [aId, bId].sort());
    assert.equal(api.presence[aId].user, 'carol');
    assert.deepEqual(await server.call('presence_stats', { channel: ch }), { num_clients: 2, num_users: 1 });

    b.disconnect();
    await until(async () => (await a.presenceStats(ch)).numClients === 1, { what: 'presence without b' });
    a.disconnect();
  });

  test('join and leave are pushed to subscribers', async () => {
    const ch = channel('chat', 'j');
    const a = newClient('dave');
    await connected(a);
    const subA = a.newSubscription(ch);
    await subscribed(subA);

    const b = newClient('erin');
    const { client: bId } = await connected(b);
    const subB = b.newSubscription(ch);
    const joined = next(subA, 'join', { filter: (ctx) => ctx.info.client === bId });
    await subscribed(subB);
    const j = await joined;
    assert.equal(j.channel, ch);
    assert.equal(j.info.user, 'erin');

    // Leave on unsubscribe…
    const left = next(subA, 'leave', { filter: (ctx) => ctx.info.client === bId });
    subB.unsubscribe();
    const l = await left;
    assert.equal(l.info.user, 'erin');

    // …and on disconnect.
    const c = newClient('frank');
    const { client: cId } = await connected(c);
    const joined2 = next(subA, 'join', { filter: (ctx) => ctx.info.client === cId });
    await subscribed(c.newSubscription(ch));
    await joined2;
    const left2 = next(subA, 'leave', { filter: (ctx) => ctx.info.client === cId });
    c.disconnect();
    assert.equal((await left2).info.user, 'frank');
    a.disconnect();
    b.disconnect();
  });

  test('history with limit, since and reverse', async () => {
    const ch = channel('chat', 'h');
    const c = newClient('gina');
    await connected(c);
    await subscribed(c.newSubscription(ch));
    for (let n = 1; n <= 10; n++) await server.publish(ch, { n });
    const offsets = (r) => r.publications.map((p) => p.offset);

    const top = await c.history(ch);
    assert.deepEqual(top.publications, [], 'no limit: the position only');
    assert.equal(top.offset, 10);
    assert.equal(typeof top.epoch, 'string');
    assert.ok(top.epoch.length > 0);
    const { epoch } = top;

    const all = await c.history(ch, { limit: -1 });
    assert.deepEqual(offsets(all), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(all.publications[0].data, { n: 1 });
    assert.deepEqual(all.publications[9].data, { n: 10 });
    assert.equal(all.offset, 10);
    assert.equal(all.epoch, epoch);

    assert.deepEqual(offsets(await c.history(ch, { limit: 3 })), [1, 2, 3]);
    assert.deepEqual(offsets(await c.history(ch, { limit: 3, reverse: true })), [10, 9, 8]);
    assert.deepEqual(offsets(await c.history(ch, { limit: -1, since: { offset: 7, epoch } })), [8, 9, 10]);
    assert.deepEqual(offsets(await c.history(ch, { limit: 2, since: { offset: 7, epoch } })), [8, 9]);
    assert.deepEqual(
      offsets(await c.history(ch, { limit: 2, since: { offset: 7, epoch }, reverse: true })),
      [6, 5],
    );
    await assert.rejects(c.history(ch, { limit: -1, since: { offset: 7, epoch: 'otherEpoch' } }), (e) => {
      assert.equal(e.code, 112, JSON.stringify(e));
      return true;
    });

    // The server API answers the same query the same way.
    const api = await server.call('history', { channel: ch, limit: 2, since: { offset: 7, epoch }, reverse: true });
    assert.deepEqual(
      api.publications.map((p) => p.offset),
      [6, 5],
    );
    assert.equal(api.epoch, epoch);
    c.disconnect();
  });

  test('reconnect recovers the 50 publications missed, once each, in order', async () => {
    const ch = channel('chat', 'rec');
    const c = newClient('hank');
    await connected(c);
    const sub = c.newSubscription(ch);
    const pubs = record(sub, 'publication');
    const first = await subscribed(sub);
    assert.equal(first.recoverable, true);
    assert.equal(first.wasRecovering, false);
    for (let n = 1; n <= 3; n++) await server.publish(ch, { n });
    await until(() => pubs.length === 3, { what: '3 live publications' });

    const gone = next(c, 'disconnected');
    c.disconnect();
    await gone;
    for (let n = 4; n <= 53; n++) await server.publish(ch, { n });

    const again = next(sub, 'subscribed');
    c.connect();
    const s = await again;
    assert.equal(s.wasRecovering, true, JSON.stringify(s));
    assert.equal(s.recovered, true, JSON.stringify(s));
    await until(() => pubs.length >= 53, { what: `53 publications (have ${pubs.length})` });
    await sleep(300); // duplicates would arrive here
    assert.equal(pubs.length, 53, 'each once');
    assert.deepEqual(
      pubs.map((p) => p.data.n),
      Array.from({ length: 53 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      pubs.map((p) => p.offset),
      Array.from({ length: 53 }, (_, i) => i + 1),
    );

    // Live publications go on from there without a gap.
    await server.publish(ch, { n: 54 });
    await until(() => pubs.length === 54, { what: 'the 54th publication' });
    assert.equal(pubs[53].offset, 54);
    c.disconnect();
  });

  test('after the history TTL has passed a reconnect is not recovered', async () => {
    const ch = channel('short', 'ttl');
    const c = newClient('ivan');
    await connected(c);
    const sub = c.newSubscription(ch);
    const pubs = record(sub, 'publication');
    await subscribed(sub);
    await server.publish(ch, { n: 1 });
    await until(() => pubs.length === 1, { what: 'the first publication' });

    const gone = next(c, 'disconnected');
    c.disconnect();
    await gone;
    for (let n = 2; n <= 6; n++) await server.publish(ch, { n });
    await sleep(3000); // history_ttl is 2s

    const again = next(sub, 'subscribed');
    c.connect();
    const s = await again;
    assert.equal(s.wasRecovering, true, JSON.stringify(s));
    assert.equal(s.recovered, false, JSON.stringify(s));
    assert.equal(s.streamPosition?.offset, 6, `the current top: ${JSON.stringify(s)}`);
    await sleep(300);
    assert.equal(pubs.length, 1, 'no publication delivered after a failed recovery');
    c.disconnect();
  });

  test('a connection whose token expired gets a new one through getToken', async () => {
    let calls = 0;
    const getToken = async () => {
      calls += 1;
      return userToken('judy');
    };
    // An expired token at connect: error 109, then getToken, then connected.
    const c = newClient('judy', { token: userToken('judy', { ttl: -60 }), getToken });
    const errors = record(c, 'error');
    await connected(c, 10000);
    assert.equal(calls, 1, 'getToken once');
    assert.ok(
      errors.some((e) => e.error?.code === 109),
      `the SDK saw error 109: ${JSON.stringify(errors)}`,
    );
    c.disconnect();
  });

  test('a token that expires while connected is refreshed through getToken', async () => {
    // A server that closes expired connections 1 s after exp, so a refresh
    // that did not take would show.
    const cfg = baseConfig();
    cfg.client.expired_close_delay = '1s';
    const strict = await Server.start({ config: cfg });
    try {
      let calls = 0;
      const c = strict.client({
        token: userToken('kim', { ttl: 2 }),
        getToken: async () => {
          calls += 1;
          return userToken('kim', { ttl: 3600 });
        },
      });
      await connected(c);
      const transitions = record(c, 'connecting');
      const sub = c.newSubscription(channel('chat', 'exp'));
      await subscribed(sub);
      await sleep(5000); // exp + expired_close_delay + margin
      assert.ok(calls >= 1, 'getToken was called');
      assert.equal(c.state, 'connected');
      assert.deepEqual(transitions, [], 'never disconnected');
      const arrived = next(sub, 'publication');
      await strict.publish(sub.channel, { after: 'refresh' });
      assert.deepEqual((await arrived).data, { after: 'refresh' });
      c.disconnect();

      // Control: a raw socket that never refreshes is closed by the server
      // with 3005 soon after exp (the SDK without getToken would give up by
      // itself at the ttl, so it cannot show this).
      const raw = new WebSocket(strict.wsUrl);
      await new Promise((ok, fail) => raw.once('open', ok).once('error', fail));
      const closed = new Promise((ok) => raw.once('close', (code, reason) => ok({ code, reason: String(reason) })));
      raw.on('message', (m) => {
        // Answer server pings so only the expiry can close it.
        for (const line of String(m).split('\n')) if (line === '{}') raw.send('{}');
      });
      const t0 = Date.now();
      raw.send(JSON.stringify({ id: 1, connect: { token: userToken('kim', { ttl: 2 }) } }));
      let timer;
      const res = await Promise.race([
        closed,
        new Promise((ok) => (timer = setTimeout(() => ok({ code: 'still open after 8 s' }), 8000))),
      ]);
      clearTimeout(timer);
      raw.terminate();
      assert.equal(res.code, 3005, JSON.stringify(res));
      assert.ok(Date.now() - t0 >= 1500, 'not before exp');
    } finally {
      await strict.stop();
    }
  });

  test('a forbidden channel gets 103 and the SDK stops retrying', async () => {
    const sent = [];
    const c = newClient('leo', { websocket: recordingWebSocket(sent) });
    await connected(c);
    const ch = channel('locked', 'f');
    const sub = c.newSubscription(ch);
    const gone = next(sub, 'unsubscribed');
    sub.subscribe();
    const u = await gone;
    assert.equal(u.code, 103, JSON.stringify(u));
    assert.equal(sub.state, 'unsubscribed');
    await sleep(1500); // a retry would come within the 100 ms…1 s backoff
    assert.equal(sub.state, 'unsubscribed');
    const tries = commands(sent).filter((cmd) => cmd.subscribe?.channel === ch);
    assert.equal(tries.length, 1, `subscribe sent once: ${JSON.stringify(tries)}`);
    assert.equal(c.state, 'connected', 'the connection is unaffected');
    c.disconnect();
  });

  test('an unknown namespace gets 102 and the SDK stops retrying', async () => {
    const c = newClient('mia');
    await connected(c);
    const sub = c.newSubscription(channel('nosuchns', 'x'));
    const gone = next(sub, 'unsubscribed');
    sub.subscribe();
    assert.equal((await gone).code, 102);
    c.disconnect();
  });
});
