// The customer-service desk, built on /pushwire.js only: the visitor's page
// at /support and the agent console at /support/agent, in headless
// Chromium against `pushwire serve` on its development defaults. A visitor
// opens a conversation; it waits in two agents' queues (one opened the
// console before, one after: the queue channel's history); one agent takes
// it and it leaves the other's queue; messages go both ways; the visitor
// and the agent reload and find the conversation again, with its history.
// Two agents that take the same conversation at once agree on the winner:
// the `taken` publication with the lowest offset. With SCREENSHOT_DIR set,
// screenshots of both sides at desktop and phone sizes are saved there.
//
// The queue's rules (web/support/queue.js) are also tested here on their
// own, without a browser.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchChromium, Server } from './harness.mjs';
import { SupportQueue, newConversationId } from '../../web/support/queue.js';

// --------------------------------------------------------------- the queue's rules

describe('the support queue (web/support/queue.js)', () => {
  const open = (offset, conv, visitor = 'Vera') => ({ offset, data: { type: 'open', conv, visitor, preview: 'help', at: 1000 + offset } });
  const taken = (offset, conv, agent) => ({ offset, data: { type: 'taken', conv, agent, at: 1000 + offset } });
  const closed = (offset, conv) => ({ offset, data: { type: 'closed', conv, by: 'visitor', at: 1000 + offset } });

  test('the lowest-offset `taken` wins, whatever order the publications arrive in', () => {
    const pubs = [open(1, 'conv001'), taken(3, 'conv001', 'ben'), taken(2, 'conv001', 'Ana'), taken(4, 'conv001', 'cy')];
    const orders = [[0, 1, 2, 3], [0, 2, 1, 3], [3, 2, 1, 0], [1, 3, 0, 2]];
    for (const order of orders) {
      const queue = new SupportQueue();
      for (const i of order) queue.apply(pubs[i]);
      assert.deepEqual(queue.get('conv001').owner, { agent: 'Ana', offset: 2, at: 1002 }, `order ${order}`);
      assert.deepEqual(queue.waiting(), []);
      assert.deepEqual(queue.ownedBy(' ana ').map((c) => c.conv), ['conv001'], 'names match without case and spaces');
      assert.deepEqual(queue.ownedBy('ben'), []);
    }
  });

  test('waiting lists open conversations nobody took, oldest first; closed ones leave every list', () => {
    const queue = new SupportQueue();
    for (const pub of [open(1, 'conv002', 'Bo'), open(2, 'conv001', 'Al'), open(3, 'conv003', 'Cy'), taken(4, 'conv003', 'ana'), closed(5, 'conv002'), closed(6, 'conv003')]) {
      queue.apply(pub);
    }
    assert.deepEqual(queue.waiting().map((c) => c.visitor), ['Al']);
    assert.deepEqual(queue.ownedBy('ana'), []);
    // An announcement repeated after a reload changes nothing; a replayed offset is ignored.
    assert.equal(queue.apply(open(7, 'conv001', 'Al')).visitor, 'Al');
    assert.equal(queue.apply(taken(4, 'conv001', 'ben')), null, 'offset 4 was seen');
    assert.deepEqual(queue.waiting().map((c) => c.conv), ['conv001']);
  });

  test('malformed publications change nothing', () => {
    const queue = new SupportQueue();
    for (const data of [null, 'text', {}, { type: 'open' }, { type: 'open', conv: '../x' }, { type: 'taken', conv: 'conv001' }, { type: 'nope', conv: 'conv001' }]) {
      queue.apply({ offset: 9, data });
    }
    assert.equal(queue.apply({ data: { type: 'taken', conv: 'conv001', agent: 'ana' } }), null, 'a take without an offset cannot be ordered');
    assert.deepEqual(queue.waiting(), []);
    assert.ok([...queue.conversations.values()].every((c) => !c.owner));
  });

  test('conversation ids are 12 base-36 characters', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newConversationId()));
    assert.equal(ids.size, 50);
    for (const id of ids) assert.match(id, /^[a-z0-9]{12}$/);
  });
});

// --------------------------------------------------------------- in Chromium

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

const DESKTOP = { width: 1200, height: 760 };
const PHONE = { width: 360, height: 720 };

/** A new tab at `path`; `problems` collects script errors. */
async function openPage(path, viewport = DESKTOP, prepare = async () => {}) {
  const page = await browser.newPage();
  page.setDefaultTimeout(10000);
  await page.setViewportSize(viewport);
  await prepare(page);
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  const response = await page.goto(`${server.origin}${path}`);
  assert.equal(response.status(), 200);
  return { page, problems };
}

/** A visitor who asks `question` as `name`; resolves with the page and the conversation id. */
async function visitor(name, question, viewport = PHONE) {
  const v = await openPage('/support', viewport);
  if (await v.page.locator('#start').isHidden()) {
    // This browser has a conversation open from an earlier test: start afresh.
    await v.page.evaluate(() => localStorage.removeItem('pushwire-support-conversation'));
    await v.page.goto(`${server.origin}/support`);
  }
  await v.page.fill('#name', name);
  await v.page.fill('#question', question);
  await v.page.click('#start-button');
  await v.page.locator('#agent-state[data-state=waiting]').waitFor();
  await v.page.locator('#messages li.msg', { hasText: question }).waitFor();
  const conv = new URL(v.page.url()).searchParams.get('c');
  assert.match(conv, /^[a-z0-9]{12}$/);
  return { ...v, conv };
}

/** An agent console signed in as `name`. */
async function agent(name, viewport = DESKTOP, prepare) {
  const a = await openPage('/support/agent', viewport, prepare);
  await a.page.fill('#agent-name', name);
  await a.page.click('#enter');
  await a.page.locator('#status[data-state=connected]').waitFor();
  return a;
}

const queued = (page, conv) => page.locator(`#queue li[data-conv="${conv}"]`);
const mine = (page, conv) => page.locator(`#mine li[data-conv="${conv}"]`);
const agentMessages = (page, conv) => page.$$eval(`ul.messages[data-conv="${conv}"] li.msg .text`, (els) => els.map((e) => e.textContent));
const visitorMessages = (page) => page.$$eval('#messages li.msg .text', (els) => els.map((e) => e.textContent));

async function agentSays(page, text) {
  await page.bringToFront(); // a tab in the background answers clicks late
  await page.fill('#text', text);
  await page.click('#send-button');
}

const visitorSays = agentSays;

async function screenshot(page, name) {
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/${name}.png` });
}

test('a visitor asks, two agents see it queued, one takes it, they talk, and both sides reload into it', { timeout: 60000 }, async () => {
  const pages = [];
  try {
    const ana = await agent('Ana');
    pages.push(ana);
    await ana.page.locator('#queue li.empty').waitFor();

    const vera = await visitor('Vera', 'Where is my order #1234?');
    pages.push(vera);
    const { conv } = vera;

    // Ana had the console open: the conversation arrives live.
    await queued(ana.page, conv).waitFor();
    assert.equal(await queued(ana.page, conv).locator('.visitor').textContent(), 'Vera');
    assert.equal(await queued(ana.page, conv).locator('.preview').textContent(), 'Where is my order #1234?');
    // Ben opens the console later: the queue's history shows it to him.
    const ben = await agent('Ben', PHONE);
    pages.push(ben);
    await queued(ben.page, conv).waitFor();
    await ana.page.locator('#agents', { hasText: '2 agents online' }).waitFor();
    await screenshot(ben.page, 'support-agent-queue-phone');

    // Ana takes it: it is hers, it leaves Ben's queue, Vera learns who answers.
    await ana.page.bringToFront();
    await queued(ana.page, conv).locator('button.take').click();
    await mine(ana.page, conv).waitFor();
    await queued(ana.page, conv).waitFor({ state: 'detached' });
    await queued(ben.page, conv).waitFor({ state: 'detached' });
    assert.equal(await mine(ben.page, conv).count(), 0);
    assert.equal(await ana.page.textContent('#conv-title'), 'Vera');
    await ana.page.locator(`ul.messages[data-conv="${conv}"] li.msg`, { hasText: 'Where is my order #1234?' }).waitFor();
    await vera.page.locator('#agent-state[data-state=talking]', { hasText: 'You are talking to Ana' }).waitFor();
    await vera.page.locator('#messages li.line', { hasText: 'Ana joined the conversation' }).waitFor();

    // Messages both ways.
    await agentSays(ana.page, 'Hi Vera, it left the warehouse today.');
    await vera.page.locator('#messages li.msg.theirs', { hasText: 'it left the warehouse today' }).waitFor();
    await visitorSays(vera.page, 'Thanks <b>a lot</b>!');
    await ana.page.locator(`ul.messages[data-conv="${conv}"] li.msg.theirs`, { hasText: 'Thanks <b>a lot</b>!' }).waitFor();
    assert.equal(await ana.page.locator('ul.messages b').count(), 0, 'text is shown as text');
    const transcript = ['Where is my order #1234?', 'Hi Vera, it left the warehouse today.', 'Thanks <b>a lot</b>!'];
    assert.deepEqual(await visitorMessages(vera.page), transcript);
    assert.deepEqual(await agentMessages(ana.page, conv), transcript);

    await screenshot(vera.page, 'support-visitor-phone');
    await screenshot(ana.page, 'support-agent-desktop');

    // The visitor reloads, then comes back to /support without the id in the URL: the conversation, with its history.
    await vera.page.reload();
    await vera.page.locator('#messages li.msg', { hasText: 'Thanks' }).waitFor();
    assert.deepEqual(await visitorMessages(vera.page), transcript);
    await vera.page.locator('#agent-state[data-state=talking]', { hasText: 'Ana' }).waitFor();
    await vera.page.goto(`${server.origin}/support`);
    await vera.page.locator('#messages li.msg', { hasText: 'Thanks' }).waitFor();
    assert.deepEqual(await visitorMessages(vera.page), transcript);
    assert.equal(new URL(vera.page.url()).searchParams.get('c'), conv);

    // The agent reloads: still signed in, still hers, the transcript back.
    await ana.page.reload();
    await mine(ana.page, conv).waitFor();
    await ana.page.locator(`ul.messages[data-conv="${conv}"] li.msg`, { hasText: 'Thanks' }).waitFor();
    assert.deepEqual(await agentMessages(ana.page, conv), transcript);
    assert.equal(await ana.page.textContent('#me'), 'Ana');
    assert.equal(await queued(ana.page, conv).count(), 0);
    await agentSays(ana.page, 'Anything else?');
    await vera.page.locator('#messages li.msg', { hasText: 'Anything else?' }).waitFor();
    // One "joined" line: the reload did not announce Ana again.
    assert.equal(await vera.page.locator('#messages li.line.joined').count(), 1);

    // Ben reloads: the conversation is not in his queue.
    await ben.page.reload();
    await ben.page.locator('#status[data-state=connected]').waitFor();
    await ben.page.locator('#queue li.empty').waitFor();
    assert.equal(await mine(ben.page, conv).count(), 0);

    // Vera ends it: Ana sees it ended; Vera's next visit starts afresh.
    await vera.page.click('#end');
    await vera.page.locator('#ended').waitFor();
    await ana.page.locator(`ul.messages[data-conv="${conv}"] li.line.ended`, { hasText: 'Vera ended the conversation' }).waitFor();
    await ana.page.bringToFront();
    await ana.page.click('#close');
    await mine(ana.page, conv).waitFor({ state: 'detached' });
    await vera.page.goto(`${server.origin}/support`);
    await vera.page.locator('#start').waitFor();

    for (const { problems } of pages) assert.deepEqual(problems, [], 'no script errors on the pages');
  } finally {
    for (const { page } of pages) await page.close();
  }
});

test('two agents take the same conversation at once: the first `taken` by offset wins on both consoles', { timeout: 45000 }, async () => {
  // Cy's console hears the hub 1.5 s late, so that its Take button is
  // still there when Dee's take went out: both consoles publish `taken`.
  const late = (page) => page.addInitScript(() => {
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      set onmessage(listener) {
        super.onmessage = listener && ((event) => setTimeout(() => listener.call(this, event), window.incomingDelay || 0));
      }

      get onmessage() {
        return super.onmessage;
      }
    };
  });
  const pages = [];
  try {
    const dee = await agent('Dee');
    const cy = await agent('Cy', DESKTOP, late);
    pages.push(dee, cy);
    const walt = await visitor('Walt', 'Can I change my address?', DESKTOP);
    pages.push(walt);
    const { conv } = walt;
    await queued(dee.page, conv).waitFor();
    await queued(cy.page, conv).waitFor();

    await cy.page.evaluate(() => (window.incomingDelay = 1500));
    const take = (page) => page.$eval(`#queue li[data-conv="${conv}"] button.take`, (button) => button.click());
    await take(dee.page);
    await take(cy.page);

    // Both consoles settle, on the same owner.
    const owner = async (page) => {
      await queued(page, conv).waitFor({ state: 'detached' });
      return (await mine(page, conv).count()) === 1;
    };
    const [deeWon, cyWon] = await Promise.all([owner(dee.page), owner(cy.page)]);
    assert.notEqual(deeWon, cyWon, 'exactly one agent has it');
    const [winner, loser, winnerName, loserName] = deeWon ? [dee, cy, 'Dee', 'Cy'] : [cy, dee, 'Cy', 'Dee'];
    await loser.page.locator('#toast', { hasText: `${winnerName} took Walt first` }).waitFor();
    await walt.page.locator('#agent-state', { hasText: `You are talking to ${winnerName}` }).waitFor();

    // The hub's history says why: both took it, the winner's `taken` has the lower offset.
    const { result } = await server.api('history', { channel: 'support:queue', limit: 100 });
    const takes = result.publications.filter((p) => p.data.type === 'taken' && p.data.conv === conv);
    assert.deepEqual(takes.map((p) => p.data.agent).sort(), ['Cy', 'Dee'], 'both consoles published a take');
    takes.sort((a, b) => a.offset - b.offset);
    assert.equal(takes[0].data.agent, winnerName);
    assert.equal(await mine(loser.page, conv).count(), 0);

    // The winner talks to the visitor; the loser hears nothing of it.
    await agentSays(winner.page, `${winnerName} here, sure.`);
    await walt.page.locator('#messages li.msg', { hasText: `${winnerName} here` }).waitFor();
    assert.equal(await loser.page.locator(`ul.messages[data-conv="${conv}"]`).count(), 0);
    assert.notEqual(loserName, winnerName);
    for (const { problems } of pages) assert.deepEqual(problems, [], 'no script errors on the pages');
  } finally {
    for (const { page } of pages) await page.close();
  }
});

test('both support pages fit a 360 px wide phone, and screenshots at both sizes', { timeout: 45000 }, async () => {
  const pages = [];
  try {
    const start = await openPage('/support', PHONE);
    pages.push(start);
    await start.page.evaluate(() => localStorage.removeItem('pushwire-support-conversation'));
    await start.page.goto(`${server.origin}/support`);
    await start.page.locator('#start').waitFor();
    await screenshot(start.page, 'support-visitor-start-phone');

    const xena = await visitor('Xena', 'Do you ship to Norway?', DESKTOP);
    pages.push(xena);
    const eve = await agent('Eve', PHONE);
    pages.push(eve);
    await queued(eve.page, xena.conv).locator('button.take').click();
    // On a phone the lists give way to the conversation just taken.
    await mine(eve.page, xena.conv).waitFor({ state: 'attached' });
    await eve.page.locator('#conv-title', { hasText: 'Xena' }).waitFor();
    await agentSays(eve.page, 'We do, in 3 to 5 days.');
    await xena.page.locator('#messages li.msg', { hasText: 'We do' }).waitFor();
    await screenshot(xena.page, 'support-visitor-desktop');
    await screenshot(eve.page, 'support-agent-conversation-phone');

    const phoneVisitor = await openPage(`/support?c=${xena.conv}`, PHONE);
    pages.push(phoneVisitor);
    await phoneVisitor.page.locator('#messages li.msg', { hasText: 'We do' }).waitFor();

    // On the phone: the message box, its button and the state fit the screen, nothing scrolls sideways.
    for (const [{ page }, selectors] of [
      [phoneVisitor, ['#text', '#send-button', '#agent-state', '#end', '#status']],
      [eve, ['#text', '#send-button', '#back', '#end', '#conv-title']],
      [start, ['#name', '#question', '#start-button']],
    ]) {
      for (const selector of selectors) {
        const box = await page.locator(selector).boundingBox();
        assert.ok(box, `${selector} is laid out`);
        assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width + 0.5, `${selector} fits the width: ${JSON.stringify(box)}`);
        assert.ok(box.y >= 0 && box.y + box.height <= PHONE.height + 0.5, `${selector} is on screen: ${JSON.stringify(box)}`);
      }
      const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(scrollWidth <= PHONE.width, `no sideways scrolling on ${page.url()} (${scrollWidth}px)`);
    }
    // The agent's phone layout goes back from the conversation to the lists.
    await eve.page.click('#back');
    await eve.page.locator('#queue').waitFor();
    assert.equal(await eve.page.locator('#conversation').isVisible(), false);
    for (const { problems } of pages) assert.deepEqual(problems, [], 'no script errors on the pages');
  } finally {
    for (const { page } of pages) await page.close();
  }
});
