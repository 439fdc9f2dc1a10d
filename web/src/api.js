// The companion API, as the dialer uses it: sign in with the account's
// password (POST /api/v1/sessions, a bearer token back), then ask for
// short-lived SIP credentials (POST /api/v1/sip-credentials) to register
// and call with over WebSocket, and again before they expire. The account
// password never goes into a SIP digest; the token stays in memory only.

// APIError is a refusal of the API, with its HTTP status and error code.
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// signInError is the plain words for a failed sign-in.
export function signInError(err) {
  if (!(err instanceof APIError)) {
    return `cannot reach the switch: ${err.message || err}`;
  }
  switch (err.code) {
    case 'bad_credentials':
      return 'wrong username or password';
    case 'account_disabled':
      return 'this account is disabled';
    case 'rate_limited':
      return 'too many failed sign-ins; wait a minute and try again';
    default:
      return err.message || `sign-in failed (${err.status})`;
  }
}

// renewDelay is how long to wait before asking for new credentials: what
// the API says (80 % of their lifetime), at least a second.
export function renewDelay(creds) {
  const s = Number(creds && creds.renew_after_seconds);
  return Math.max(1, Number.isFinite(s) && s > 0 ? s : 60) * 1000;
}

async function call(base, method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(new URL(path, base), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit',
  });
  if (res.status === 204) {
    return null;
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // not JSON: the status says it
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new APIError(res.status, e.code || 'http_' + res.status, e.message || `${res.status} ${res.statusText}`);
  }
  return data;
}

// Session is one sign-in to the API.
export class Session {
  // base is the URL the API's paths (api/v1/...) are relative to.
  constructor(base) {
    this.base = base;
    this.token = '';
    this.account = null;
  }

  async signIn(username, password) {
    const out = await call(this.base, 'POST', 'api/v1/sessions', { body: { username, password } });
    this.token = out.token;
    this.account = out.account;
    return out.account;
  }

  // sipCredentials are new app credentials: {username, password, account,
  // realm, expires_at, ttl_seconds, renew_after_seconds}.
  sipCredentials() {
    return call(this.base, 'POST', 'api/v1/sip-credentials', { token: this.token });
  }

  async signOut() {
    const token = this.token;
    this.token = '';
    if (token) {
      await call(this.base, 'DELETE', 'api/v1/sessions/current', { token }).catch(() => {});
    }
  }
}
