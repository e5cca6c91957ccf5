// The Django example's chat page in a real browser (Debian Chromium, driven
// by playwright-core from scripts/browser/node_modules), against the same
// running Django and pushwire as e2e.py: alice's page connects with the
// token its view minted, bob's with his session cookie over the connect
// proxy (?via=cookie), a message typed into alice's form appears on both
// pages, each sees the other online, and an anonymous visitor is sent to
// the login.
//
//   DJANGO_URL=… PLAYWRIGHT_CORE=…/playwright-core/index.mjs CHROMIUM_BIN=/usr/bin/chromium node check/browser.mjs

const DJANGO = (process.env.DJANGO_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '');
const { chromium } = await import(process.env.PLAYWRIGHT_CORE || 'playwright-core');
const ROOM = `browser-${Math.random().toString(16).slice(2, 10)}`;
const TIMEOUT = 10000;

const results = [];
function check(name, ok, detail = '') {
  results.push(ok);
  console.log(`${ok ? 'ok    ' : 'FAILED'} ${name}${ok ? '' : `: ${detail}`}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const errors = [];

async function open(user, query = '') {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${user}: ${e.message}`));
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(`${DJANGO}/accounts/login/?next=/chat/${ROOM}/${encodeURIComponent(query)}`);
  await page.fill('#id_username', user);
  await page.fill('#id_password', `${user}-password`);
  await Promise.all([page.waitForURL(`**/chat/${ROOM}/**`), page.click('button[type=submit]')]);
  if (query) await page.goto(`${DJANGO}/chat/${ROOM}/${query}`);
  return page;
}

async function connected(page) {
  return page.waitForSelector('#state[data-state="connected"]').then(
    () => [true, ''],
    async () => [false, `state ${await page.textContent('#state')} (${await page.getAttribute('#state', 'title')})`],
  );
}

async function shows(page, selector, text) {
  return page.waitForSelector(`${selector}:has-text("${text}")`).then(() => true, () => false);
}

try {
  const alice = await open('alice');
  let [ok, why] = await connected(alice);
  check('page: alice connects with the token from her page', ok, why);
  const bob = await open('bob', '?via=cookie');
  [ok, why] = await connected(bob);
  check('page: bob connects with his session cookie (connect proxy)', ok, why);
  check('page: alice sees bob join', await shows(alice, '#log li.system', 'bob joined'));
  check('page: alice counts two online', await shows(alice, '#online', '2 online'),
    await alice.textContent('#online'));

  const text = `typed in Chromium ${Date.now()}`;
  await alice.fill('#send input[name=text]', text);
  await alice.click('#send button');
  for (const [who, page] of [['alice', alice], ['bob', bob]]) {
    check(`page: the message alice sent through Django appears on ${who}'s page`, await shows(page, '#log li', text),
      JSON.stringify(await page.$$eval('#log li', (l) => l.map((x) => x.textContent))));
  }
  await alice.reload();
  check('page: after a reload the message comes from the database', await shows(alice, '#log li', text));

  const anon = await (await browser.newContext()).newPage();
  await anon.goto(`${DJANGO}/chat/${ROOM}/`);
  check('page: an anonymous visitor is sent to the login', anon.url().includes('/accounts/login/'), anon.url());
  check('page: no script errors', errors.length === 0, errors.join('; '));
} catch (e) {
  check('the run', false, e.stack || String(e));
} finally {
  await browser.close();
}
const failed = results.filter((ok) => !ok).length;
console.log(`django-browser: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
