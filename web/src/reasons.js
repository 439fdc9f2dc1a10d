// Plain words for the way a call ends: the switch's SIP refusals
// (RFC 3261 section 21) and JsSIP's end causes.

// refusals maps a final SIP status of the switch to what the user reads.
const refusals = {
  401: 'wrong username or password',
  402: 'not enough credit',
  403: 'this destination is blocked',
  404: 'no route to this number',
  407: 'wrong username or password',
  408: 'no answer',
  480: 'no answer',
  484: 'that number is not valid',
  486: 'busy',
  487: 'call cancelled',
  488: 'call could not be set up (no common audio format)',
  503: 'service unavailable, try again',
  600: 'busy',
};

// limits maps the limit a 403 names ("Forbidden: over the account's
// concurrent_calls limit", README.md, Limits) to what the user reads.
const limits = {
  concurrent_calls: 'too many calls at once on this account',
  calls_per_minute: 'too many calls in a minute: wait a moment',
  spend_hour: "this account's spending limit for the hour is reached",
  spend_day: "this account's spending limit for the day is reached",
  max_rate: 'this destination costs more than this account may call',
  country: 'calls to this country are not allowed on this account',
  number_type: 'calls to this kind of number are not allowed on this account',
};

// refusalReason is the text for a final response code and its reason
// phrase: one of ours, else the phrase the switch sent.
export function refusalReason(code, phrase) {
  if (code === 403 && /caller id/i.test(phrase || '')) {
    return 'calls from this account may not show that number';
  }
  const limit = code === 403 && /over the account's (\w+) limit/.exec(phrase || '');
  if (limit && limits[limit[1]]) {
    return limits[limit[1]];
  }
  if (code === 403 && /credentials expired/i.test(phrase || '')) {
    return 'your sign-in had expired; call again';
  }
  if (refusals[code]) {
    return refusals[code];
  }
  return phrase ? `${phrase} (${code})` : `call failed (${code})`;
}

// JsSIP's causes (JsSIP.C.causes) that are not a SIP response of the switch.
const causes = {
  Canceled: 'call cancelled',
  'No Answer': 'no answer',
  Expires: 'no answer',
  'Connection Error': 'lost the connection to the switch',
  'Request Timeout': 'the switch did not answer',
  'User Denied Media Access': 'the microphone is not available',
  'WebRTC Error': 'call could not be set up (browser audio error)',
  'Bad Media Description': 'call could not be set up (no common audio format)',
  'Incompatible SDP': 'call could not be set up (no common audio format)',
  'Missing SDP': 'call could not be set up (no audio offered)',
  'RTP Timeout': 'the audio connection was lost',
  'No ACK': 'the switch did not confirm the call',
  'Dialog Error': 'call could not be set up (signalling error)',
  'Authentication Error': 'wrong username or password',
};

// failedReason is the text for JsSIP's "failed" event (the call never
// connected): {originator, cause, message}, message being the response
// when the switch refused the call.
export function failedReason({ originator, cause, message } = {}) {
  if (originator === 'remote' && message && message.status_code >= 300) {
    return refusalReason(message.status_code, message.reason_phrase);
  }
  return causes[cause] || (cause ? String(cause).toLowerCase() : 'call failed');
}

// endedReason is the text for JsSIP's "ended" event (a connected call
// ended): a BYE says who hung up.
export function endedReason({ originator, cause } = {}) {
  if (cause === 'Terminated') { // JsSIP.C.causes.BYE
    return originator === 'local' ? 'call ended: you hung up' : 'call ended: the other side hung up';
  }
  return 'call ended: ' + (causes[cause] || (cause ? String(cause).toLowerCase() : 'unknown cause'));
}

// registrationError is the text for JsSIP's "registrationFailed" event.
export function registrationError({ cause, response } = {}) {
  const code = response && response.status_code;
  if (code === 403 && /disabled/i.test(response.reason_phrase || '')) {
    return 'this account is disabled';
  }
  if (code === 401 || code === 403 || code === 407 || cause === 'Authentication Error' || cause === 'Rejected') {
    return 'wrong username or password';
  }
  if (code) {
    return refusalReason(code, response.reason_phrase);
  }
  return causes[cause] || (cause ? String(cause).toLowerCase() : 'sign-in failed');
}
