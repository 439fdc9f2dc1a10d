// Unit tests of the page's pure modules: node --test web/test/ (run by
// web/node_test.go under go test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { APIError, renewDelay, signInError } from '../src/api.js';
import { sipURL } from '../src/config.js';
import { onlyMD5 } from '../src/digest.js';
import { endedReason, failedReason, refusalReason, registrationError } from '../src/reasons.js';
import { restrictCodecs } from '../src/sdp.js';

// The audio section of Chromium 156's offer, as JsSIP sends it.
const offer = [
  'v=0',
  'o=- 3828822050215423540 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 56584 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 192.0.2.2',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:1970064087 cname:ZQAYs+CjZ/mYub/1',
  '',
].join('\r\n');

const lines = (sdp) => sdp.split('\r\n');
const typeLines = (sdp) => lines(sdp).filter((l) => /^(m=|a=(rtpmap|fmtp|rtcp-fb):)/.test(l));

test('restrictCodecs PCMU keeps PCMU and telephone-event/8000', () => {
  assert.deepEqual(typeLines(restrictCodecs(offer, ['PCMU'])), [
    'm=audio 56584 UDP/TLS/RTP/SAVPF 0 126',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:126 telephone-event/8000',
  ]);
});

test('restrictCodecs keeps the offer order and the other lines', () => {
  const got = restrictCodecs(offer, ['pcma', 'PCMU']);
  assert.equal(typeLines(got)[0], 'm=audio 56584 UDP/TLS/RTP/SAVPF 0 8 126');
  for (const l of ['c=IN IP4 192.0.2.2', 'a=rtcp-mux', 'a=ssrc:1970064087 cname:ZQAYs+CjZ/mYub/1', 'a=mid:0']) {
    assert.ok(lines(got).includes(l), l);
  }
  assert.ok(got.endsWith('\r\n'));
});

test('restrictCodecs opus keeps its fmtp, rtcp-fb and telephone-event/48000', () => {
  assert.deepEqual(typeLines(restrictCodecs(offer, ['opus'])), [
    'm=audio 56584 UDP/TLS/RTP/SAVPF 111 110',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:110 telephone-event/48000',
  ]);
});

test('restrictCodecs leaves an offer alone when nothing would be left', () => {
  assert.equal(restrictCodecs(offer, ['G729']), offer);
  assert.equal(restrictCodecs(offer, []), offer);
});

test('restrictCodecs knows static payload types without rtpmap', () => {
  const sdp = 'v=0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n';
  assert.equal(restrictCodecs(sdp, ['PCMU']), 'v=0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n');
});

test('refusals in plain words', () => {
  const want = {
    402: 'not enough credit',
    403: 'this destination is blocked',
    404: 'no route to this number',
    484: 'that number is not valid',
    486: 'busy',
    600: 'busy',
    480: 'no answer',
    408: 'no answer',
    487: 'call cancelled',
    488: 'call could not be set up (no common audio format)',
    503: 'service unavailable, try again',
  };
  for (const [code, text] of Object.entries(want)) {
    assert.equal(refusalReason(Number(code), 'Whatever'), text, `refusalReason(${code})`);
    assert.equal(failedReason({ originator: 'remote', cause: 'x', message: { status_code: Number(code), reason_phrase: 'Whatever' } }), text);
  }
  assert.equal(refusalReason(403, "Forbidden: over the account's concurrent_calls limit"), 'too many calls at once on this account');
  assert.equal(refusalReason(403, "Forbidden: over the account's number_type limit"), 'calls to this kind of number are not allowed on this account');
  assert.equal(refusalReason(403, "Forbidden: over the account's unknown_thing limit"), 'this destination is blocked');
  assert.equal(refusalReason(486, "over the account's country limit"), 'busy');
  assert.equal(refusalReason(603, 'Decline'), 'Decline (603)');
  assert.equal(refusalReason(403, 'Forbidden: caller ID not allowed'), 'calls from this account may not show that number');
  assert.equal(refusalReason(403, 'Forbidden: destination blocked'), 'this destination is blocked');
  assert.equal(refusalReason(500, ''), 'call failed (500)');
});

test('ends in plain words', () => {
  assert.equal(failedReason({ originator: 'local', cause: 'Canceled' }), 'call cancelled');
  assert.equal(failedReason({ originator: 'system', cause: 'Connection Error' }), 'lost the connection to the switch');
  assert.equal(endedReason({ originator: 'local', cause: 'Terminated' }), 'call ended: you hung up');
  assert.equal(endedReason({ originator: 'remote', cause: 'Terminated' }), 'call ended: the other side hung up');
  assert.equal(endedReason({ originator: 'system', cause: 'RTP Timeout' }), 'call ended: the audio connection was lost');
});

test('sign-in errors in plain words', () => {
  assert.equal(registrationError({ cause: 'Authentication Error', response: { status_code: 401 } }), 'wrong username or password');
  assert.equal(registrationError({ cause: 'Rejected', response: { status_code: 403, reason_phrase: 'Forbidden' } }), 'wrong username or password');
  assert.equal(registrationError({ cause: 'Rejected', response: { status_code: 403, reason_phrase: 'Forbidden: account disabled' } }), 'this account is disabled');
  assert.equal(registrationError({ cause: 'Request Timeout' }), 'the switch did not answer');
});

test('sipURL', () => {
  const loc = { hostname: 'switch.example' };
  assert.equal(sipURL({ sip_url: 'wss://sip.example/ws', ws_port: 5066 }, loc), 'wss://sip.example/ws');
  assert.equal(sipURL({ ws_port: 5066 }, loc), 'ws://switch.example:5066');
  assert.equal(sipURL({ ws_port: 443, ws_secure: true }, loc), 'wss://switch.example:443');
  assert.equal(sipURL({ ws_port: 5066 }, { hostname: '::1' }), 'ws://[::1]:5066');
  assert.equal(sipURL({ domain: 'dialtone' }, loc), '');
});

test('onlyMD5 drops the challenges JsSIP cannot answer', () => {
  const head = 'SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\nCSeq: 1 REGISTER\r\n';
  const md5 = 'WWW-Authenticate: Digest realm="dialtone", nonce="N", algorithm=MD5, qop="auth"\r\n';
  const sha = 'WWW-Authenticate: Digest realm="dialtone", nonce="N", algorithm=SHA-256, qop="auth"\r\n';
  assert.equal(onlyMD5(head + md5 + sha + '\r\n'), head + md5 + '\r\n');
  assert.equal(onlyMD5(head + sha + md5 + '\r\n'), head + md5 + '\r\n');
  assert.equal(onlyMD5(head + sha + '\r\n'), head + sha + '\r\n'); // nothing JsSIP can answer: as it was
  const proxy = 'SIP/2.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Digest realm="d", nonce="N", algorithm=SHA-256\r\nProxy-Authenticate: Digest realm="d", nonce="N"\r\n\r\n';
  assert.equal(onlyMD5(proxy), 'SIP/2.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Digest realm="d", nonce="N"\r\n\r\n');
  const ok = 'SIP/2.0 200 OK\r\n' + md5 + sha + '\r\n';
  assert.equal(onlyMD5(ok), ok);
});

test('signInError says why the API refused a sign-in', () => {
  assert.equal(signInError(new APIError(401, 'bad_credentials', 'wrong username or password')), 'wrong username or password');
  assert.equal(signInError(new APIError(403, 'account_disabled', 'x')), 'this account is disabled');
  assert.match(signInError(new APIError(429, 'rate_limited', 'x')), /too many failed sign-ins/);
  assert.equal(signInError(new APIError(503, 'unavailable', 'this switch issues no SIP credentials')), 'this switch issues no SIP credentials');
  assert.match(signInError(new TypeError('Failed to fetch')), /cannot reach the switch: Failed to fetch/);
});

test('renewDelay follows the API, at least a second', () => {
  assert.equal(renewDelay({ renew_after_seconds: 2880 }), 2880000);
  assert.equal(renewDelay({ renew_after_seconds: 0 }), 60000);
  assert.equal(renewDelay({ renew_after_seconds: 'x' }), 60000);
  assert.equal(renewDelay({ renew_after_seconds: 0.2 }), 1000);
  assert.equal(renewDelay(null), 60000);
});

test('an INVITE refused for expired credentials says so', () => {
  assert.equal(refusalReason(403, 'Forbidden: credentials expired'), 'your sign-in had expired; call again');
  assert.equal(refusalReason(403, 'Forbidden'), 'this destination is blocked');
});
