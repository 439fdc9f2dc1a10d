#!/usr/bin/env node
// sipjs.mjs places a call through the switch from SIP.js (npm sip.js, the
// other common WebRTC SIP stack besides the dialer's JsSIP) in headless
// Chromium: register over WebSocket with digest auth, call, listen, send
// DTMF, hang up. It proves the switch works with a client it does not ship.
// It signs in as an app would: the account's password to the companion API
// (POST /api/v1/sessions), then SIP credentials from it (POST
// /api/v1/sip-credentials) for digest auth; with "device": true, user and
// password are a device's and go straight into the digest.
//
//   node web/test/sipjs.mjs '{"url":"http://127.0.0.1:8080/","user":"demo","password":"demo","number":"+12125550100"}'
//
// Input: one JSON argument.
//   url          the switch's HTTP listener; the page runs on its origin and reads
//                config.json for the WebSocket URL and the SIP domain  (required)
//   user, password, number                                            (required)
//   device       true: user and password are SIP device credentials, not the API's
//   wav          16-bit PCM WAV the fake microphone plays (looped)
//   toneHz       tone expected from the far end: the "tone" event says whether it is heard
//   dtmf         digits to send once connected (RFC 4733 through RTCDTMFSender)
//   holdMs       stay connected at least this long, then hang up (BYE)
//   timeoutMs    for the whole run (default 30000)
//   chromium     the browser (default $CHROMIUM or /usr/bin/chromium)
//   spki         base64 SHA-256 of the public key of a self-signed wss certificate to accept
//   debug        true: SIP.js's log and the page's console as "console" events
//
// Output: one JSON object per line on stdout:
//   {"event":"registered","user":"demo","authUser":"1767225600~demo"}
//   {"event":"state","state":"connected"}     (calling, connected, ended)
//   {"event":"tone",...}                      (as call.mjs)
//   {"event":"dtmf","digit":"1"}
//   {"event":"ended","code":0,"reason":""}     (code and reason of a refusal)
//   {"event":"done","ok":true}  or  {"event":"done","ok":false,"error":"..."}
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

import { Driver, listen, out, readInput, sleep } from './browser.mjs';

const opts = readInput(['url', 'user', 'password', 'number']);

const driver = new Driver(opts, (d) => {
  if (d.type === 'registered') {
    out({ event: 'registered', user: opts.user, authUser: d.authUser });
  } else if (d.type === 'state') {
    out({ event: 'state', state: d.state });
  }
});
const { timeoutMs } = driver;
const waitFor = (match, ms, what) => driver.waitFor(match, ms, what);

// sipjsBundle is SIP.js as one script that sets window.SIP.
async function sipjsBundle() {
  const res = await build({
    stdin: { contents: "import * as SIP from 'sip.js'; window.SIP = SIP;", resolveDir: dirname(fileURLToPath(import.meta.url)), loader: 'js' },
    bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent',
  });
  return res.outputFiles[0].text;
}

// client runs in the page: a SIP.js user agent that registers, and
// window.dialer, which the tone measurement reads (remoteStream, state).
async function client({ user, password, device, debug }) {
  const SIP = window.SIP;
  const report = (d) => window.__dialtoneReport(d);
  const cfg = await (await fetch('config.json', { cache: 'no-store' })).json();
  let authUser = user;
  if (!device) {
    const post = async (path, body, token) => {
      const res = await fetch(path, {
        method: 'POST', body: body && JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      });
      if (!res.ok) {
        report({ type: 'signinfailed', code: res.status, reason: `${path}: ${await res.text()}` });
        throw new Error(`${path}: ${res.status}`);
      }
      return res.json();
    };
    const { token } = await post('api/v1/sessions', { username: user, password });
    const creds = await post('api/v1/sip-credentials', null, token);
    authUser = creds.username;
    password = creds.password;
  }
  const server = cfg.sip_url || `${cfg.ws_secure ? 'wss' : 'ws'}://${location.hostname}:${cfg.ws_port}`;
  const ua = new SIP.UserAgent({
    uri: SIP.UserAgent.makeURI(`sip:${user}@${cfg.domain}`),
    transportOptions: { server },
    authorizationUsername: authUser,
    authorizationPassword: password,
    userAgentString: `SIP.js/${SIP.version}`,
    logLevel: debug ? 'debug' : 'warn',
    sessionDescriptionHandlerFactoryOptions: {
      peerConnectionConfiguration: { iceServers: [] }, // host candidates only: no STUN
      iceGatheringTimeout: 2000,
    },
  });
  const dialer = { state: 'idle', remoteStream: null, session: null, code: 0, reason: '' };
  window.dialer = dialer;
  const setState = (state) => {
    dialer.state = state;
    report({ type: 'state', state, code: dialer.code, reason: dialer.reason });
  };

  dialer.call = (number) => {
    const inviter = new SIP.Inviter(ua, SIP.UserAgent.makeURI(`sip:${number}@${cfg.domain}`), {
      sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } },
    });
    dialer.session = inviter;
    inviter.stateChange.addListener((s) => {
      if (s === SIP.SessionState.Established) {
        const stream = inviter.sessionDescriptionHandler.remoteMediaStream;
        const audio = new Audio(); // Chromium plays a remote stream to WebAudio only while an element plays it
        audio.srcObject = stream;
        audio.play().catch(() => {});
        dialer.remoteStream = stream;
        setState('connected');
      } else if (s === SIP.SessionState.Terminated) {
        setState('ended');
      }
    });
    setState('calling');
    return inviter.invite({
      requestDelegate: {
        onReject: (r) => {
          dialer.code = r.message.statusCode;
          dialer.reason = r.message.reasonPhrase;
        },
      },
    }).catch((err) => {
      dialer.reason = String(err.message || err);
      setState('ended');
    });
  };
  dialer.dtmf = (digit) => dialer.state === 'connected' && dialer.session.sessionDescriptionHandler.sendDtmf(digit);
  dialer.hangup = () => dialer.session.bye();

  const registerer = new SIP.Registerer(ua, { expires: 300 });
  registerer.stateChange.addListener((s) => {
    if (s === SIP.RegistererState.Registered) {
      report({ type: 'registered', authUser });
    }
  });
  await ua.start();
  await registerer.register({
    requestDelegate: { onReject: (r) => report({ type: 'signinfailed', code: r.message.statusCode, reason: r.message.reasonPhrase }) },
  });
}

async function run() {
  const code = await sipjsBundle();
  const page = await driver.page();
  await page.goto(new URL('config.json', opts.url).href); // the switch's origin: a secure context on 127.0.0.1
  await page.addScriptTag({ content: code });
  await page.evaluate(client, { user: opts.user, password: opts.password, device: Boolean(opts.device), debug: Boolean(opts.debug) }).catch(() => {});

  const signin = await waitFor((d) => d.type === 'registered' || d.type === 'signinfailed', 10000, 'REGISTER answer');
  if (signin.type === 'signinfailed') {
    return [false, `REGISTER refused: ${signin.code} ${signin.reason}`];
  }

  await page.evaluate((n) => { window.dialer.call(n); }, opts.number);
  const reached = await waitFor((d) => d.type === 'state' && (d.state === 'connected' || d.state === 'ended'), timeoutMs, 'connected or ended');
  const problems = [];
  if (reached.state === 'connected') {
    const connectedAt = Date.now();
    problems.push(await listen(page, opts.toneHz));
    for (const digit of String(opts.dtmf || '')) {
      if (await page.evaluate((d) => window.dialer.dtmf(d), digit)) {
        out({ event: 'dtmf', digit });
      } else {
        problems.push(`DTMF ${digit} was not sent`);
      }
      await sleep(400); // RTCDTMFSender plays each tone for 100 ms, then a 70 ms gap
    }
    await sleep(connectedAt + (opts.holdMs || 0) - Date.now());
    if (await page.evaluate(() => window.dialer.state) === 'connected') {
      await page.evaluate(() => window.dialer.hangup());
    }
  }
  const ended = await waitFor((d) => d.type === 'state' && d.state === 'ended', 10000, 'end of the call');
  out({ event: 'ended', code: ended.code, reason: ended.reason });
  if (reached.state !== 'connected') {
    problems.push(`the call ended before it connected: ${ended.code} ${ended.reason}`);
  }
  const failed = problems.filter(Boolean);
  return failed.length ? [false, failed.join('; ')] : [true];
}

driver.run(run);
