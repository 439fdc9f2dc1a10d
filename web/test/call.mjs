#!/usr/bin/env node
// call.mjs drives the dialer page in headless Chromium (playwright-core) for
// end-to-end tests: sign in, call, listen, send DTMF, hang up.
//
//   node web/test/call.mjs '{"url":"http://127.0.0.1:8080/","user":"demo","password":"demo","number":"+12125550100"}'
//
// Input: one JSON argument.
//   url          the dialer page                                     (required)
//   user, password                                                   (required)
//   number       what to type in #number                             (required unless signInOnly or expectSignInError)
//   country      default country of the number (?country=), e.g. "GB"
//   codecs       "PCMU" or ["PCMU"]: offer only these (?codecs=)
//   wav          16-bit PCM WAV the fake microphone plays (looped); none: Chromium's beep
//   toneHz       tone expected FROM the far end: the "tone" event says whether it is heard
//   earlyToneHz  tone expected from the far end before it answers (early media, 183): listened
//                for while the page shows ringing; the "tone" event has "early":true
//   dtmf         digits to press once connected, e.g. "123#" (~250 ms apart)
//   dtmfAfterMs  press them no earlier than this long after connected
//   muteMs       once connected (after dtmf), click Mute, stay muted this long, click it again
//                and stay unmuted as long
//   holdCycle    true: once connected (after dtmf and mute), put the call on hold and take it off
//                again (JsSIP re-INVITEs), then listen for toneHz once more
//   hangup       "page" (default): click Hang up; "remote": wait for the far end to hang up
//   holdMs       with hangup "page": stay connected at least this long
//   calls        place this many calls in a row, each like the first (default 1); each
//                prints its own events, from "dialed" to "ended"
//   expectReason the call must end with #reason containing this (e.g. "not enough credit");
//                a call that ends before it connects is then not a failure
//   callAfterMs  wait this long after signing in before dialing (e.g. past the lifetime of
//                the first SIP credentials, to call with renewed ones)
//   signInOnly   true: sign in, then stop
//   expectSignInError  sign-in must fail with this text (e.g. "wrong username or password",
//                "this switch has no WebSocket listener")
//   timeoutMs    for the whole run (default 30000)
//   chromium     the browser (default $CHROMIUM or /usr/bin/chromium)
//   spki         base64 SHA-256 of the public key of a self-signed wss certificate to accept
//   debug        true: the page's console and JsSIP's log as "console" events
//
// Output: one JSON object per line on stdout, in this order as they happen:
//   {"event":"registered","user":"demo","authUser":"1767225600~demo"}   (authUser: the SIP
//                                                digest username, app credentials from the API)
//   {"event":"renewed","count":2,"authUser":"..."} (callAfterMs: credentials renewed while waiting)
//   {"event":"signin_failed","error":"wrong username or password"}
//   {"event":"dialed","shown":"+44 20 7946 0018"} (the number as the page formatted it while typed)
//   {"event":"state","state":"calling"}          (calling, ringing, connected, ended)
//   {"event":"tone",...,"early":true}            (earlyToneHz: heard while ringing, before the answer)
//   {"event":"tone","peakHz":703.1,"levelDb":-31.2,"medianDb":-95.4,"rmsDb":-20.3,"toneHz":700,"detected":true,"samples":6}
//   {"event":"dtmf","digit":"1"}                 (the browser started sending it, RFC 4733)
//   {"event":"mute","at":1764633600000,"ok":true} {"event":"unmute","at":...,"ok":true}
//                                                (muteMs: when the button was clicked, ms since the epoch;
//                                                ok: the button shows the new state)
//   {"event":"hold","ok":true} {"event":"unhold","ok":true}   (holdCycle: the re-INVITE was answered)
//   {"event":"tone",...,"afterHold":true}        (holdCycle: the tone again after unhold)
//   {"event":"timer","shown":"00:09","ms":9012}  (hangup "page": the call timer just before the click)
//   {"event":"ended","reason":"call ended: you hung up","code":0}   (code: the SIP refusal, 0 if none)
//   {"event":"pageerror","error":"..."}          (a script error in the page)
//   {"event":"done","ok":true}  or  {"event":"done","ok":false,"error":"..."}
// and exits 0 when ok, 1 when not (2 on bad input).
import { Driver, listen, out, readInput, sleep } from './browser.mjs';

const opts = readInput(['url', 'user', 'password'], (o) => {
  if (!o.signInOnly && !o.expectSignInError && !o.number) {
    throw new Error('number is missing');
  }
  if (o.hangup && o.hangup !== 'page' && o.hangup !== 'remote') {
    throw new Error('hangup must be "page" or "remote"');
  }
});

// The page's events (window 'dialer', see web/src/main.js), in order.
const driver = new Driver(opts, (d) => {
  if (d.type === 'state') {
    out({ event: 'state', state: d.state });
  } else if (d.type === 'dtmf') {
    out({ event: 'dtmf', digit: d.digit });
  }
});
const { events, timeoutMs } = driver;
const waitFor = (match, ms, what) => driver.waitFor(match, ms, what);

async function run() {
  const page = await driver.page();
  await page.addInitScript(() => window.addEventListener('dialer', (e) => window.__dialtoneReport(e.detail)));

  const url = new URL(opts.url);
  if (opts.codecs) {
    url.searchParams.set('codecs', [].concat(opts.codecs).join(','));
  }
  if (opts.country) {
    url.searchParams.set('country', opts.country);
  }
  if (opts.debug) {
    url.searchParams.set('debug', '1');
  }
  await page.goto(url.href);

  // Sign in.
  await page.waitForSelector('body[data-ready]', { state: 'attached' });
  if (await page.isDisabled('#signin-button')) { // e.g. no WebSocket listener
    const shown = await page.textContent('#signin-status');
    out({ event: 'signin_failed', error: shown });
    const ok = Boolean(opts.expectSignInError) && shown.includes(opts.expectSignInError);
    return ok ? [true] : [false, `cannot sign in: ${shown}`];
  }
  await page.fill('#username', opts.user);
  await page.fill('#password', opts.password);
  await page.click('#signin-button');
  const signin = await waitFor((d) => d.type === 'registered' || d.type === 'signinfailed', 10000, 'sign-in answer');
  if (signin.type === 'signinfailed') {
    const shown = await page.textContent('#signin-status');
    out({ event: 'signin_failed', error: shown });
    if (opts.expectSignInError) {
      return shown.includes(opts.expectSignInError) ? [true] : [false, `sign-in error "${shown}", want "${opts.expectSignInError}"`];
    }
    return [false, `sign-in failed: ${shown}`];
  }
  const account = await page.textContent('#account');
  out({ event: 'registered', user: opts.user, authUser: signin.authUser });
  if (opts.expectSignInError) {
    return [false, `signed in, want the sign-in error "${opts.expectSignInError}"`];
  }
  if (!account.includes(`signed in as ${opts.user}`)) {
    return [false, `#account says "${account}", want "signed in as ${opts.user}"`];
  }
  if (opts.signInOnly) {
    return [true];
  }

  if (opts.callAfterMs) {
    await sleep(opts.callAfterMs);
    const r = await page.evaluate(() => ({ count: window.dialer.renewals, authUser: window.dialer.authUser }));
    out({ event: 'renewed', count: r.count, authUser: r.authUser });
  }

  const problems = [];
  for (let i = 0; i < (opts.calls || 1); i++) {
    if (i > 0) {
      events.length = 0; // waitFor looks at this call's events only
      await page.fill('#number', '');
    }
    problems.push(...await call(page));
  }
  const failed = problems.filter(Boolean);
  return failed.length ? [false, failed.join('; ')] : [true];
}

// call places one call and returns what went wrong with it.
async function call(page) {
  await page.locator('#number').pressSequentially(String(opts.number));
  out({ event: 'dialed', shown: await page.inputValue('#number') });
  await page.click('#call');
  await waitFor((d) => d.type === 'state' && d.state === 'calling', 2000, 'call').catch(async () => {
    throw new Error(`the call did not start: ${await page.textContent('#reason')}`);
  });
  const problems = [];
  if (opts.earlyToneHz) {
    const rang = await waitFor((d) => d.type === 'state' && d.state !== 'calling', timeoutMs, 'ringing');
    if (rang.state === 'ringing') {
      // the far end's audio (with the 183's SDP) and ICE+DTLS may still be on their way
      await waitFor((d) => d.type === 'remotestream', 3000, 'early media stream').catch(() => {});
      problems.push(await listen(page, opts.earlyToneHz, { during: 'ringing', samples: 4, durationMs: 1000, mark: { early: true }, when: 'before the answer' }));
    } else {
      problems.push(`the call went from calling to ${rang.state} without ringing`);
    }
  }
  const reached = await waitFor((d) => d.type === 'state' && (d.state === 'connected' || d.state === 'ended'), timeoutMs, 'connected or ended');
  if (reached.state === 'connected') {
    const connectedAt = Date.now();
    problems.push(await listen(page, opts.toneHz));
    if (opts.dtmf) {
      await sleep(connectedAt + (opts.dtmfAfterMs || 0) - Date.now());
      for (const [i, digit] of [...String(opts.dtmf)].entries()) {
        if (await page.evaluate(() => window.dialer.state) !== 'connected') {
          problems.push(`the call ended before DTMF ${digit} was sent`);
          break;
        }
        await page.click(`[data-digit="${digit}"]`);
        // the i-th digit the browser sends must be this one
        await waitFor((d) => d.type === 'dtmf' && events.filter((e) => e.type === 'dtmf').indexOf(d) === i, 2000, `DTMF ${digit} sent`)
          .then((d) => d.digit !== digit && problems.push(`DTMF sent ${d.digit}, want ${digit}`))
          .catch((err) => problems.push(err.message));
        await sleep(250);
      }
    }
    if (opts.muteMs) {
      for (const [op, pressed, label] of [['mute', 'true', 'Unmute'], ['unmute', 'false', 'Mute']]) {
        const at = Date.now();
        await page.click('#mute');
        const ok = await page.evaluate(() => window.dialer.session.isMuted().audio) === (op === 'mute') &&
          await page.getAttribute('#mute', 'aria-pressed') === pressed && (await page.textContent('#mute')).trim() === label;
        out({ event: op, at, ok });
        if (!ok) {
          problems.push(`${op}: the call or the button did not change`);
        }
        await sleep(opts.muteMs); // muted, then as long unmuted before what comes next (hold mutes too)
      }
    }
    if (opts.holdCycle) {
      for (const op of ['hold', 'unhold']) {
        const ok = await page.evaluate((op) => new Promise((resolve) => {
          const s = window.dialer.session;
          // JsSIP calls back once the re-INVITE is answered; a refusal ends the call.
          if (!s || !s[op]({}, () => resolve(true))) {
            resolve(false);
          }
          setTimeout(() => resolve(false), 5000);
        }), op);
        out({ event: op, ok });
        if (!ok) {
          problems.push(`${op}: the re-INVITE was not answered`);
        }
        await sleep(1000);
      }
      problems.push(await listen(page, opts.toneHz, { mark: { afterHold: true }, when: 'after unhold' }));
    }
    if ((opts.hangup || 'page') === 'page') {
      await sleep(connectedAt + (opts.holdMs || 0) - Date.now());
      if (await page.evaluate(() => window.dialer.state) === 'connected') {
        out({ event: 'timer', shown: await page.textContent('#timer'), ms: Date.now() - connectedAt });
        await page.click('#hangup');
      }
    }
  }
  const ended = await waitFor((d) => d.type === 'state' && d.state === 'ended', timeoutMs, 'end of the call');
  const reason = await page.textContent('#reason');
  out({ event: 'ended', reason, code: ended.code || 0 });
  if (opts.expectReason) {
    if (!reason.includes(opts.expectReason)) {
      problems.push(`the call ended with "${reason}", want "${opts.expectReason}"`);
    }
  } else if (reached.state !== 'connected') {
    problems.push(`the call ended before it connected: ${reason}`);
  } else if (opts.hangup === 'remote' && !reason.includes('the other side hung up')) {
    problems.push(`the call ended with "${reason}", want the other side to hang up`);
  }
  return problems;
}

driver.run(run);
