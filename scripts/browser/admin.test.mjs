// The admin page at /admin, and the front page that links the apps, in
// headless Chromium against `pushwire serve`. The admin page reads the
// server's own /metrics every second and shows the
// connections (by transport), channels, publications and deliveries per
// second, and slow-consumer events. A chat page keeps a WebSocket open and
// subscribed while the server API publishes a few messages: the admin page
// must show them, at desktop size and on a 360 px wide phone. With
// SCREENSHOT_DIR set, screenshots at both sizes are saved there.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium, Server } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await Server.start();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openPage(path, viewport) {
  const page = await browser.newPage();
  page.setDefaultTimeout(10000);
  await page.setViewportSize(viewport);
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  const response = await page.goto(`${server.origin}${path}`);
  assert.equal(response.status(), 200);
  return { page, problems };
}

test('the admin page shows the open connections and the publication and delivery rates from /metrics, on a desktop and on a phone', { timeout: 45000 }, async () => {
  const admin = await openPage('/admin', { width: 1200, height: 900 });
  const room = `admin${Date.now().toString(36)}`;
  const chat = await openPage(`/chat?room=${room}`, { width: 800, height: 600 });
  let publishing = null;
  try {
    await admin.page.locator('#status[data-state=ok]').waitFor();
    await chat.page.fill('#name', 'watcher');
    await chat.page.click('#enter');
    await chat.page.locator('#status[data-state=connected]').waitFor();

    // The chat's WebSocket shows up: in all, and in its transport's row.
    await admin.page.waitForFunction(() => Number(document.querySelector('#connections').textContent) >= 1);
    await admin.page.waitForFunction(() => Number(document.querySelector('#transports tr[data-transport=websocket] .open')?.textContent) >= 1);
    // The chat room (and its signals channel) are channels with a subscriber.
    await admin.page.waitForFunction(() => Number(document.querySelector('#channels').textContent) >= 2);

    // A few publications a second into the chat's room: a publication rate and a delivery rate.
    let sent = 0;
    let stop = false;
    publishing = (async () => {
      while (!stop && sent < 40) {
        await server.api('publish', { channel: `chat:${room}`, data: { type: 'message', name: 'api', text: `n${sent}`, at: Date.now() } });
        sent += 1;
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    await admin.page.waitForFunction(() => Number(document.querySelector('#publication-rate').textContent) > 0);
    await admin.page.waitForFunction(() => Number(document.querySelector('#delivery-rate').textContent) > 0);
    await chat.page.locator('#messages li.msg', { hasText: 'n2' }).waitFor();
    if (process.env.SCREENSHOT_DIR) await admin.page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/admin-desktop.png`, fullPage: true });

    // On a 360 px wide phone: the figures fit, nothing scrolls sideways.
    await admin.page.setViewportSize({ width: 360, height: 740 });
    const scrollWidth = await admin.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 360, `no sideways scrolling (${scrollWidth}px)`);
    for (const selector of ['#connections', '#publication-rate', '#delivery-rate', '#slow-events', '#transports', '#slow', '#hub', '#server']) {
      const box = await admin.page.locator(selector).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 360.5, `${selector} fits the width: ${JSON.stringify(box)}`);
    }
    if (process.env.SCREENSHOT_DIR) await admin.page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/admin-phone.png`, fullPage: true });
    stop = true;
    await publishing;
    assert.ok(sent >= 2);

    // The totals agree with the server's own /metrics.
    const metrics = (await server.request('/metrics')).body;
    const total = Number(/^pushwire_publications_total (\d+)$/m.exec(metrics)[1]);
    await admin.page.waitForFunction((n) => document.querySelector('#publications-total').textContent === `${n} in all`, total);
    // The chart drew the rates, and the slow-consumer table is there (with nothing slow here).
    assert.equal(await admin.page.locator('#publications-chart polyline').count(), 1);
    assert.equal(await admin.page.textContent('#slow tr[data-metric=pushwire_slow_disconnects_total] .total'), '0');
    assert.deepEqual(admin.problems, [], 'no script errors on the admin page');
    assert.deepEqual(chat.problems, []);
  } finally {
    await publishing?.catch(() => {});
    await Promise.all([admin.page.close(), chat.page.close()]);
  }
});

test('the front page links every app, each link serves its page, and it fits a phone', { timeout: 30000 }, async () => {
  const { page, problems } = await openPage('/', { width: 360, height: 740 });
  try {
    const links = await page.$$eval('nav.apps a', (as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual(links, ['/chat', '/support', '/support/agent', '/admin']);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 360, `no sideways scrolling (${scrollWidth}px)`);
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/index-phone.png` });
    for (const href of links) {
      const res = await server.request(href);
      assert.equal(res.status, 200, href);
      assert.match(res.headers['content-type'], /^text\/html/, href);
    }
    // The link takes the browser there.
    await page.click('nav.apps a[href="/admin"]');
    await page.locator('#status[data-state=ok]').waitFor();
    assert.equal(new URL(page.url()).pathname, '/admin');
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});
