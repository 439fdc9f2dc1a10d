// The dialer page: sign in, dial, talk. It wires the DOM of index.html to a
// Phone (phone.js). Sign-in is with the companion API (api.js): the
// account's password gets a bearer token, the token gets short-lived SIP
// credentials for the phone, renewed at 80 % of their lifetime. Query parameters, for tests and debugging:
//   ?codecs=PCMU     offer only these codecs (and the matching telephone-event)
//   ?country=GB      the default country of typed numbers
//   ?debug=1         JsSIP's log in the console
//
// window.dialer = {ua, session, remoteStream, state, reason, digits} reads
// the live values; every event of the phone is also dispatched on window as
// a CustomEvent 'dialer' with detail {type, ...}.
import JsSIP from 'jssip';

import { Session, renewDelay, signInError } from './api.js';
import { loadConfig, sipURL } from './config.js';
import { countries, dialString, formatTyped } from './number.js';
import { Phone } from './phone.js';

const $ = (sel) => document.querySelector(sel);
const params = new URLSearchParams(location.search);
const codecs = (params.get('codecs') || '').split(',').filter(Boolean);
if (params.get('debug')) {
  JsSIP.debug.enable('JsSIP:*');
} else {
  JsSIP.debug.disable();
}

const phone = new Phone();
let digits = ''; // DTMF sent in the current call
window.dialer = {
  phone,
  get ua() { return phone.ua; },
  get session() { return phone.session; },
  get remoteStream() { return phone.remoteStream; },
  get state() { return phone.state; },
  get reason() { return phone.reason; },
  get digits() { return digits; },
  get authUser() { return phone.authUser; },
  get renewals() { return renewals; },
};
for (const type of ['registered', 'signinfailed', 'connection', 'state', 'remotestream', 'dtmf']) {
  phone.addEventListener(type, (e) => {
    const detail = { type, ...e.detail };
    delete detail.stream;
    window.dispatchEvent(new CustomEvent('dialer', { detail }));
  });
}

const ui = {
  form: $('#signin'),
  username: $('#username'),
  password: $('#password'),
  signinButton: $('#signin-button'),
  signinStatus: $('#signin-status'),
  account: $('#account'),
  signout: $('#signout'),
  phone: $('#phone'),
  country: $('#country'),
  number: $('#number'),
  backspace: $('#backspace'),
  keys: [...document.querySelectorAll('[data-digit]')],
  call: $('#call'),
  hangup: $('#hangup'),
  mute: $('#mute'),
  state: $('#state'),
  timer: $('#timer'),
  reason: $('#reason'),
  sent: $('#sent-digits'),
  audio: $('#remote-audio'),
};

let config = null;
let session = null; // the API sign-in
let renewTimer = 0;
let renewals = 0; // credentials fetched after the first, for tests

// fetchCredentials asks the API for SIP credentials and schedules the next
// renewal; a failure is retried every 30 s while the session lasts.
async function fetchCredentials() {
  clearTimeout(renewTimer);
  const s = session;
  const creds = await s.sipCredentials();
  if (s === session) {
    renewTimer = setTimeout(renew, renewDelay(creds));
  }
  return { authUser: creds.username, password: creds.password, realm: creds.realm };
}

async function renew() {
  if (!session) {
    return;
  }
  try {
    phone.renew(await fetchCredentials());
    renewals++;
  } catch (err) {
    if (err.status === 401 || err.status === 403) { // the session ended
      endSession(`signed out: ${err.status === 403 ? 'this account is disabled' : 'your session ended; sign in again'}`, true);
      return;
    }
    renewTimer = setTimeout(renew, 30000);
  }
}

function endSession(message, isError) {
  clearTimeout(renewTimer);
  const s = session;
  session = null;
  if (s) {
    s.signOut();
  }
  phone.signOut();
  ui.phone.hidden = true;
  ui.form.hidden = false;
  ui.account.textContent = '';
  delete document.body.dataset.signedIn;
  showSignIn(message, isError);
}

function showSignIn(message, isError) {
  ui.signinStatus.textContent = message;
  ui.signinStatus.classList.toggle('error', Boolean(isError));
}

async function start() {
  const chosen = params.get('country') || localStorage.getItem('dialtone.country') || 'US';
  for (const { code, label } of countries(navigator.language || 'en')) {
    ui.country.add(new Option(label, code, false, code === chosen.toUpperCase()));
  }
  ui.username.value = localStorage.getItem('dialtone.user') || '';
  try {
    config = await loadConfig();
  } catch (err) {
    showSignIn(`could not load the switch's settings: ${err.message}`, true);
    ui.signinButton.disabled = true;
    return;
  }
  config.url = sipURL(config, location);
  if (!config.url) {
    showSignIn('this switch has no WebSocket listener', true);
    ui.signinButton.disabled = true;
  }
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!config || !config.url) {
    return;
  }
  const user = ui.username.value.trim();
  if (!user || !ui.password.value) {
    showSignIn('enter your username and password', true);
    return;
  }
  localStorage.setItem('dialtone.user', user);
  ui.signinButton.disabled = true;
  showSignIn('signing in…', false);
  signIn(user, ui.password.value);
});

async function signIn(user, password) {
  const s = new Session(location.href);
  session = s;
  let creds;
  try {
    const account = await s.signIn(user, password);
    user = account.username;
    creds = await fetchCredentials();
  } catch (err) {
    if (session === s) {
      phone.emit('signinfailed', { error: signInError(err) }); // its listener ends the session and says why
    }
    return;
  }
  ui.password.value = '';
  phone.signIn({ url: config.url, user, authUser: creds.authUser, password: creds.password, domain: config.domain, refresh: fetchCredentials });
}

phone.addEventListener('registered', (e) => {
  ui.password.value = '';
  ui.signinButton.disabled = false;
  ui.form.hidden = true;
  ui.phone.hidden = false;
  ui.account.textContent = `signed in as ${e.detail.user}`;
  ui.account.classList.remove('error');
  document.body.dataset.signedIn = 'true';
  showSignIn(`signed in as ${e.detail.user}`, false);
});

phone.addEventListener('signinfailed', (e) => {
  if (session) { // SIP refused what the API issued: end the API session too
    clearTimeout(renewTimer);
    session.signOut();
    session = null;
  }
  ui.signinButton.disabled = false;
  ui.form.hidden = false;
  ui.phone.hidden = true;
  ui.account.textContent = '';
  delete document.body.dataset.signedIn;
  showSignIn(e.detail.error, true);
});

phone.addEventListener('connection', (e) => {
  if (phone.registered) {
    ui.account.textContent = e.detail.up ? `signed in as ${phone.user}` : 'connection lost, reconnecting…';
    ui.account.classList.toggle('error', !e.detail.up);
  }
});

ui.signout.addEventListener('click', () => endSession('signed out', false));

// Dialing.

ui.country.addEventListener('change', () => {
  localStorage.setItem('dialtone.country', ui.country.value);
  ui.number.value = formatTyped(ui.number.value, ui.country.value);
});

ui.number.addEventListener('input', () => {
  const el = ui.number;
  if (el.selectionStart === el.value.length) { // typing at the end: format it
    el.value = formatTyped(el.value, ui.country.value);
  }
});

ui.number.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    placeCall();
  }
});

ui.backspace.addEventListener('click', () => {
  ui.number.value = formatTyped(ui.number.value.replace(/[^\d+*#]*.$/, ''), ui.country.value);
});

function pressKey(digit) {
  if (phone.state === 'connected') {
    phone.sendDTMF(digit);
  } else if (phone.state === 'idle' || phone.state === 'ended') {
    ui.number.value = formatTyped(ui.number.value + digit, ui.country.value);
  }
}

for (const key of ui.keys) {
  key.addEventListener('click', () => pressKey(key.dataset.digit));
}

document.addEventListener('keydown', (e) => {
  if (phone.state === 'connected' && /^[0-9*#]$/.test(e.key) && !e.target.closest('input, select')) {
    const key = ui.keys.find((k) => k.dataset.digit === e.key);
    key?.classList.add('pressed');
    setTimeout(() => key?.classList.remove('pressed'), 150);
    pressKey(e.key);
  }
});

function placeCall() {
  if (!phone.registered || (phone.state !== 'idle' && phone.state !== 'ended')) {
    return;
  }
  const target = dialString(ui.number.value, ui.country.value);
  if (!target) {
    ui.reason.textContent = 'enter a number';
    return;
  }
  phone.call(target, { codecs });
}

ui.call.addEventListener('click', placeCall);
ui.hangup.addEventListener('click', () => phone.hangup());
ui.mute.addEventListener('click', () => {
  const muted = phone.toggleMute();
  ui.mute.setAttribute('aria-pressed', String(muted));
  ui.mute.textContent = muted ? 'Unmute' : 'Mute';
});

phone.addEventListener('dtmf', (e) => {
  digits += e.detail.digit;
  ui.sent.textContent = digits;
});

phone.addEventListener('remotestream', (e) => {
  ui.audio.srcObject = e.detail.stream;
  ui.audio.play().catch(() => {}); // autoplay refused: the Call click usually allows it
});

// Call state.

let connectedAt = 0;
let ticker = 0;

function showTimer() {
  const s = Math.floor((Date.now() - connectedAt) / 1000);
  const mmss = `${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  ui.timer.textContent = s >= 3600 ? `${Math.floor(s / 3600)}:${mmss}` : mmss;
}

phone.addEventListener('state', (e) => {
  const { state, reason, code } = e.detail;
  document.body.dataset.state = state;
  ui.state.textContent = state;
  const inCall = state === 'calling' || state === 'ringing' || state === 'connected';
  ui.call.disabled = inCall;
  ui.hangup.disabled = !inCall;
  ui.mute.disabled = state !== 'connected';
  ui.number.readOnly = inCall;
  for (const key of ui.keys) {
    key.disabled = state === 'calling' || state === 'ringing';
  }
  if (state === 'calling') {
    digits = '';
    ui.sent.textContent = '';
    ui.reason.textContent = '';
    delete ui.reason.dataset.code;
    ui.timer.textContent = '';
  }
  if (state === 'connected') {
    connectedAt = Date.now();
    showTimer();
    ticker = setInterval(showTimer, 1000);
  }
  if (state === 'ended' || state === 'idle') {
    clearInterval(ticker);
    ui.mute.setAttribute('aria-pressed', 'false');
    ui.mute.textContent = 'Mute';
    ui.audio.srcObject = null;
  }
  if (state === 'ended' && code === 403 && /expired/.test(reason)) {
    renew(); // the credentials ran out (the machine slept?): the next call has new ones
  }
  if (state === 'ended') {
    ui.reason.textContent = reason;
    if (code) {
      ui.reason.dataset.code = String(code);
    }
  }
});

start().finally(() => {
  document.body.dataset.ready = 'true'; // for tests: sign-in is possible, or says why not
});
