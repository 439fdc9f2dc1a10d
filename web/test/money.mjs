#!/usr/bin/env node
// money.mjs drives the dialer page in headless Chromium through what a
// paying user sees: the balance and bundle minutes after sign-in, the rate
// of a number as it is typed, the cost of the call while it runs, the
// charge and the new balance after it, the call in recent calls, and a
// bundle bought. It screenshots the page at a desktop and a phone size and
// checks the layout at each.
//
//   node web/test/money.mjs '{"url":"http://127.0.0.1:8080/","user":"alice","password":"secret","number":"+442079460018","shots":"/tmp/x"}'
//
// Input: one JSON argument.
//   url, user, password                                             (required)
//   number       what to type in #number, key by key               (required)
//   holdMs       stay connected this long before hanging up (default 5000)
//   bundle       code of the bundle to buy after the call; none: buy nothing
//   shots        directory for the screenshots (required)
//   timeoutMs    for the whole run (default 45000)
//   chromium, wav, debug   as for call.mjs
//
// Output: one JSON object per line on stdout:
//   {"event":"wallet","balance":"1.00 USD","minutes":0}      (as shown after sign-in)
//   {"event":"rate","shown":"0.12 USD/min + ...","quotes":1} (quotes: how many the page asked while typing)
//   {"event":"layout","name":"desktop","width":1280,"height":800,"scrollWidth":1280,"visible":["#balance",...],"path":"..."}
//   {"event":"state","state":"connected"}
//   {"event":"cost","shown":"0.11 USD so far","ms":3012}     (ms: connected that long when read)
//   {"event":"ended","reason":"call ended: you hung up"}
//   {"event":"charge","shown":"this call: 0.11 USD"}
//   {"event":"balance","shown":"0.89 USD"}                   (after the call)
//   {"event":"recent","shown":"+442079460018 ...","count":1}
//   {"event":"bought","shown":"bought 100 minutes for 0.99 USD","minutes":100,"balance":"..."}
//   {"event":"done","ok":true}
import { join } from 'node:path';

import { Driver, out, readInput, sleep } from './browser.mjs';

const opts = readInput(['url', 'user', 'password', 'number', 'shots']);
opts.timeoutMs ||= 45000;

const driver = new Driver(opts, (d) => {
  if (d.type === 'state') {
    out({ event: 'state', state: d.state });
  }
});
const waitFor = (match, ms, what) => driver.waitFor(match, ms, what);

// sizes are the screens the page must fit.
const sizes = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
];

// layout screenshots the page at each size and checks that nothing
// overflows sideways and that the money is on screen without scrolling.
async function layout(page, problems) {
  for (const size of sizes) {
    await page.setViewportSize({ width: size.width, height: size.height });
    await sleep(150);
    const path = join(opts.shots, `dialer-${size.name}.png`);
    await page.screenshot({ path });
    const m = await page.evaluate((ids) => {
      const seen = [];
      const off = [];
      for (const id of ids) {
        const el = document.querySelector(id);
        const r = el && el.getBoundingClientRect();
        const on = r && r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight
          && getComputedStyle(el).visibility !== 'hidden' && (el.value || el.textContent).trim() !== '';
        (on ? seen : off).push(id);
      }
      return { scrollWidth: document.documentElement.scrollWidth, innerWidth, innerHeight, seen, off };
    }, ['#balance', '#bundle-minutes', '#number', '#rate', '#call']);
    out({ event: 'layout', name: size.name, width: m.innerWidth, height: m.innerHeight, scrollWidth: m.scrollWidth, visible: m.seen, path });
    if (m.scrollWidth > m.innerWidth) {
      problems.push(`${size.name}: the page is ${m.scrollWidth} px wide in a ${m.innerWidth} px window`);
    }
    if (m.off.length) {
      problems.push(`${size.name}: ${m.off.join(', ')} not in the window`);
    }
  }
}

async function run() {
  const page = await driver.page();
  await page.addInitScript(() => window.addEventListener('dialer', (e) => window.__dialtoneReport(e.detail)));
  await page.setViewportSize({ width: sizes[0].width, height: sizes[0].height });
  const url = new URL(opts.url);
  if (opts.debug) {
    url.searchParams.set('debug', '1');
  }
  await page.goto(url.href);
  await page.waitForSelector('body[data-ready]', { state: 'attached' });
  const problems = [];
  const favicon = await page.evaluate(async () => {
    const link = document.querySelector('link[rel="icon"]');
    if (!link) {
      return 'no <link rel="icon">';
    }
    const res = await fetch(link.href);
    return res.ok && (res.headers.get('content-type') || '').startsWith('image/svg+xml') ? '' : `${link.href}: ${res.status} ${res.headers.get('content-type')}`;
  });
  if (favicon) {
    problems.push(`favicon: ${favicon}`);
  }

  // Sign in with the keyboard: the fields are labelled and in order.
  await page.getByLabel('Username').fill(opts.user);
  await page.getByLabel('Password').fill(opts.password);
  await page.keyboard.press('Enter');
  const signin = await waitFor((d) => d.type === 'registered' || d.type === 'signinfailed', 10000, 'sign-in answer');
  if (signin.type === 'signinfailed') {
    return [false, `sign-in failed: ${await page.textContent('#signin-status')}`];
  }
  const first = await waitFor((d) => d.type === 'wallet', 5000, 'the wallet');
  out({ event: 'wallet', balance: await page.textContent('#balance'), minutes: first.minutes });
  if (await page.evaluate(() => document.activeElement && document.activeElement.id) !== 'number') {
    problems.push('after sign-in the focus is not on the number');
  }

  // Type the number key by key, as a person does; the page asks once the
  // typing pauses.
  const quotes = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/quote')) {
      quotes.push(r.url());
    }
  });
  await page.locator('#number').pressSequentially(opts.number, { delay: 40 });
  const quote = await waitFor((d) => d.type === 'quote', 5000, 'the rate of the number');
  await sleep(500); // any late quote would show now
  out({ event: 'rate', shown: await page.textContent('#rate'), callable: quote.callable, quotes: quotes.length });
  await layout(page, problems);
  await page.setViewportSize({ width: sizes[0].width, height: sizes[0].height });

  await page.click('#call');
  const reached = await waitFor((d) => d.type === 'state' && (d.state === 'connected' || d.state === 'ended'), 15000, 'the answer');
  if (reached.state !== 'connected') {
    return [false, `the call ended before it connected: ${await page.textContent('#reason')}`];
  }
  const connectedAt = Date.now();
  await sleep((opts.holdMs || 5000) - 800);
  out({ event: 'cost', shown: await page.textContent('#cost'), ms: Date.now() - connectedAt });
  await sleep(connectedAt + (opts.holdMs || 5000) - Date.now());
  await page.click('#hangup');
  await waitFor((d) => d.type === 'state' && d.state === 'ended', 10000, 'the end of the call');
  out({ event: 'ended', reason: await page.textContent('#reason') });
  await waitFor((d) => d.type === 'charge', 10000, 'the charge of the call');
  out({ event: 'charge', shown: await page.textContent('#charge') });
  await sleep(300); // the wallet is read right after the charge
  out({ event: 'balance', shown: await page.textContent('#balance') });
  const recent = await page.locator('#recent-calls li').first().textContent();
  out({ event: 'recent', shown: recent, count: await page.locator('#recent-calls li').count() });

  if (opts.bundle) {
    await page.selectOption('#bundle-code', opts.bundle);
    const before = driver.events.filter((d) => d.type === 'wallet').length;
    await page.click('#buy-bundle');
    const bought = await waitFor((d) => d.type === 'bought', 10000, 'the purchase');
    if (bought.error) {
      problems.push(`buying ${opts.bundle}: ${bought.shown}`);
    } else {
      const w = await waitFor((d) => d.type === 'wallet' && driver.events.filter((e) => e.type === 'wallet').indexOf(d) >= before, 5000, 'the wallet after the purchase');
      out({ event: 'bought', shown: bought.shown, minutes: w.minutes, balance: w.balance, minutesShown: await page.textContent('#bundle-minutes') });
    }
  }
  return problems.length ? [false, problems.join('; ')] : [true];
}

driver.run(run);
