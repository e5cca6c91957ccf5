// The chat rooms at /chat, built on /pushwire.js only, in headless
// Chromium: two pages pick names and a room, see each other online
// (presence), see "typing…", exchange messages both ways, and see the
// join and leave lines; a third page that enters later gets the last
// messages from the room's history. Pages without WebSocket chat over HTTP
// streaming, and with that blocked too over SSE (EventSource). With
// SCREENSHOT_DIR set, screenshots at desktop and phone sizes are saved there.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium, Server } from './harness.mjs';

let server; // pushwire serve, cleartext HTTP/1.1
let tls; // pushwire serve --tls-self-signed: HTTP/2 through ALPN
let browser;

before(async () => {
  [server, tls] = await Promise.all([Server.start(), Server.start({ tls: true })]);
  browser = await launchChromium({ spki: [tls.spkiHash()] });
});

after(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), tls?.stop()]);
});

/**
 * A page at /chat that entered `room` as `name`; `problems` collects script
 * errors. `prepare(page)` runs before the page loads (to take transports
 * away from it).
 */
async function enter(name, room, viewport = { width: 1100, height: 720 }, prepare = async () => {}, on = server) {
  const page = await browser.newPage();
  await prepare(page);
  page.setDefaultTimeout(10000);
  await page.setViewportSize(viewport);
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  const response = await page.goto(`${on.origin}/chat`);
  assert.equal(response.status(), 200);
  await page.fill('#name', name);
  await page.fill('#room-input', room);
  await page.click('#enter');
  await page.locator('#status[data-state=connected]').waitFor();
  return { page, problems };
}

const online = (page) => page.$$eval('#online li', (lis) => lis.map((li) => li.textContent).sort());
const messages = (page) => page.$$eval('#messages li.msg .text', (els) => els.map((e) => e.textContent));

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#send-button');
}

test('two pages chat through /chat: presence, typing, messages both ways, join and leave lines, history', { timeout: 45000 }, async () => {
  const room = `r${Date.now().toString(36)}`;
  const alice = await enter('alice', room);
  let bob = null;
  let carol = null;
  try {
    await alice.page.locator('#messages li.line', { hasText: 'alice joined' }).waitFor();
    assert.deepEqual(await online(alice.page), ['alice (you)']);

    bob = await enter('bob', room);
    // Each sees the other by name: presence, then who-is-who signals.
    await alice.page.waitForFunction(() => document.querySelector('#online').textContent.includes('bob'));
    await bob.page.waitForFunction(() => document.querySelector('#online').textContent.includes('alice'));
    assert.deepEqual(await online(alice.page), ['alice (you)', 'bob']);
    assert.deepEqual(await online(bob.page), ['alice', 'bob (you)']);
    await alice.page.locator('#messages li.line', { hasText: 'bob joined' }).waitFor();
    assert.equal(await alice.page.textContent('#online-count'), '2');

    // Alice types: Bob sees it; her message then replaces the typing line.
    await alice.page.type('#text', 'hello b');
    await bob.page.locator('#typing', { hasText: 'alice is typing…' }).waitFor();
    await alice.page.type('#text', 'ob');
    await alice.page.click('#send-button');
    await bob.page.locator('#messages li.msg', { hasText: 'hello bob' }).waitFor();
    await bob.page.waitForFunction(() => document.querySelector('#typing').textContent === '');
    assert.equal(await alice.page.inputValue('#text'), '');

    await say(bob.page, 'hi alice <b>not bold</b>');
    await alice.page.locator('#messages li.msg', { hasText: 'hi alice <b>not bold</b>' }).waitFor();
    assert.equal(await alice.page.locator('#messages b').count(), 0, 'text is shown as text');
    assert.equal(await alice.page.locator('#messages li.msg.mine').count(), 1);
    assert.deepEqual(await messages(alice.page), ['hello bob', 'hi alice <b>not bold</b>']);
    assert.deepEqual(await messages(bob.page), ['hello bob', 'hi alice <b>not bold</b>']);

    // A late comer gets the last messages from the history, in order.
    carol = await enter('carol', room, { width: 390, height: 844 });
    await carol.page.locator('#messages li.msg', { hasText: 'hi alice' }).waitFor();
    assert.deepEqual(await messages(carol.page), ['hello bob', 'hi alice <b>not bold</b>']);
    await carol.page.waitForFunction(() => document.querySelectorAll('#online li').length === 3);
    await alice.page.waitForFunction(() => document.querySelector('#online').textContent.includes('carol'));

    if (process.env.SCREENSHOT_DIR) {
      await alice.page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/chat-desktop.png` });
      await carol.page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/chat-phone.png` });
    }

    // Bob closes his tab: the others see him leave.
    await bob.page.close();
    bob.page = null;
    await alice.page.locator('#messages li.line', { hasText: 'bob left' }).waitFor();
    await alice.page.waitForFunction(() => !document.querySelector('#online').textContent.includes('bob'));
    assert.deepEqual(await online(alice.page), ['alice (you)', 'carol']);

    assert.deepEqual(alice.problems, [], 'no script errors on the page');
    assert.deepEqual(carol.problems, [], 'no script errors on the page');
  } finally {
    await bob?.page?.close();
    await carol?.page.close();
    await alice.page.close();
  }
});

test('the phone layout keeps the message box and the online strip on screen', { timeout: 20000 }, async () => {
  const { page, problems } = await enter('dana', `p${Date.now().toString(36)}`, { width: 360, height: 640 });
  try {
    for (const selector of ['#text', '#send-button', '#online', '#status']) {
      const box = await page.locator(selector).boundingBox();
      assert.ok(box, `${selector} is laid out`);
      assert.ok(box.x >= 0 && box.x + box.width <= 360 + 0.5, `${selector} fits the width: ${JSON.stringify(box)}`);
      assert.ok(box.y >= 0 && box.y + box.height <= 640 + 0.5, `${selector} is on screen: ${JSON.stringify(box)}`);
    }
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 360, `no sideways scrolling (${scrollWidth}px)`);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('without WebSocket the chat runs over HTTP streaming, with that blocked too over SSE, and with SSE blocked as well over long polling', { timeout: 45000 }, async (t) => {
  for (const path of ['/connection/http_stream', '/connection/sse', '/connection/long_poll']) {
    if (!(await server.serves(path))) {
      t.skip(`the server does not serve ${path} yet`);
      return;
    }
  }
  const noWebSocket = (page) => page.addInitScript(() => {
    window.WebSocket = undefined;
  });
  const noStreaming = async (page) => {
    await noWebSocket(page);
    await page.route('**/connection/http_stream', (route) => route.abort());
  };
  const noEventStream = async (page) => {
    await noStreaming(page);
    await page.route('**/connection/sse**', (route) => route.abort());
  };
  const room = `f${Date.now().toString(36)}`;
  const ws = await enter('erin', room);
  const stream = await enter('frank', room, undefined, noWebSocket);
  const sse = await enter('gina', room, undefined, noStreaming);
  const poll = await enter('hal', room, undefined, noEventStream);
  const all = [ws, stream, sse, poll];
  try {
    assert.match(await ws.page.textContent('#status'), /connected · websocket/);
    assert.match(await stream.page.textContent('#status'), /connected · http_stream/);
    assert.match(await sse.page.textContent('#status'), /connected · sse/);
    assert.match(await poll.page.textContent('#status'), /connected · long_polling/);
    for (const { page } of all) {
      await page.waitForFunction(() => document.querySelectorAll('#online li').length === 4);
    }
    const sent = ['http_stream', 'sse', 'long_polling', 'websocket'].map((how) => `sent over ${how}`);
    await say(stream.page, sent[0]);
    await say(sse.page, sent[1]);
    await say(poll.page, sent[2]);
    await say(ws.page, sent[3]);
    for (const { page } of all) {
      for (const text of sent) {
        await page.locator('#messages li.msg', { hasText: text }).waitFor();
      }
    }
    // Every page got every message once, and all in the same (the
    // channel's) order, whatever carried it.
    const lists = [];
    for (const { page } of all) {
      lists.push((await messages(page)).filter((text) => text.startsWith('sent over ')));
    }
    assert.deepEqual([...lists[0]].sort(), [...sent].sort(), 'each message once');
    for (const list of lists) assert.deepEqual(list, lists[0], 'the same order on every transport');
    // Typing signals ride the emulated transports' /emulation requests too.
    await sse.page.type('#text', 'typ');
    await stream.page.locator('#typing', { hasText: 'gina is typing…' }).waitFor();
    await poll.page.type('#text', 'typ');
    // (gina may still be shown: "gina, hal are typing…")
    await ws.page.locator('#typing', { hasText: /\bhal\b.*typing…/ }).waitFor();
    for (const { problems } of all) {
      assert.deepEqual(problems.filter((p) => !p.includes('ERR_FAILED')), [], 'no script errors on the page');
    }
  } finally {
    await Promise.all(all.map(({ page }) => page.close()));
  }
});

test('the chat survives a server restart: both pages reconnect, say what was lost, and chat on', { timeout: 45000 }, async () => {
  let restarting = await Server.start();
  const port = restarting.port;
  const room = `s${Date.now().toString(36)}`;
  const pages = [];
  const enterOn = async (name) => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${restarting.origin}/chat?room=${room}`);
    await page.fill('#name', name);
    await page.click('#enter');
    await page.locator('#status[data-state=connected]').waitFor();
    pages.push(page);
    return { page, problems };
  };
  try {
    const alice = await enterOn('hana');
    const bob = await enterOn('ivan');
    await say(alice.page, 'before the restart');
    await bob.page.locator('#messages li.msg', { hasText: 'before the restart' }).waitFor();

    restarting.child.kill('SIGHUP');
    await restarting.exited;
    await restarting.stop();
    await alice.page.locator('#status[data-state=connecting]').waitFor();
    restarting = await Server.start({ port });

    for (const { page } of [alice, bob]) {
      await page.locator('#status[data-state=connected]').waitFor();
      await page.locator('#messages li.line.warn', { hasText: 'some messages were lost' }).waitFor();
    }
    // The new stream's offsets start again at 1: its messages still show.
    await say(bob.page, 'after the restart');
    await alice.page.locator('#messages li.msg', { hasText: 'after the restart' }).waitFor();
    assert.deepEqual(await messages(alice.page), ['before the restart', 'after the restart']);
    await alice.page.waitForFunction(() => document.querySelector('#online').textContent.includes('ivan'));
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
  } finally {
    for (const page of pages) await page.close();
    await restarting.stop();
  }
});

test('over HTTP/2 with TLS the chat\'s WebSocket rides an extended CONNECT stream (RFC 8441)', { timeout: 30000 }, async () => {
  const before = await tls.stats();
  const room = `h${Date.now().toString(36)}`;
  const a = await enter('jo', room, undefined, undefined, tls);
  const b = await enter('kim', room, undefined, undefined, tls);
  try {
    assert.equal(await a.page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol), 'h2');
    await say(a.page, 'over h2');
    await b.page.locator('#messages li.msg', { hasText: 'over h2' }).waitFor();
    await a.page.waitForFunction(() => document.querySelector('#online').textContent.includes('kim'));
    const stats = await tls.stats();
    assert.equal(stats.extended_connects - before.extended_connects, 2, 'one WebSocket stream per page');
    assert.equal(stats.h1_upgrades - before.h1_upgrades, 0);
    assert.deepEqual([...a.problems, ...b.problems], []);
  } finally {
    await Promise.all([a.page.close(), b.page.close()]);
  }
});
