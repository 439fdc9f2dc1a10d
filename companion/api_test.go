package companion_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/companion"
	"github.com/dialtone/dialtone/storetest"
	"github.com/dialtone/dialtone/switch/guard"
)

const secret = "webhook-secret-0123456789abcdef0123"

// accounts creates accounts the way the switch does, with placeholder
// digest hashes (SIP authentication is not under test here).
type accounts struct{ st dialtone.Store }

func (a accounts) Create(ctx context.Context, username, _, country, currency string) (*dialtone.Account, error) {
	acct := &dialtone.Account{Username: username, Realm: "dialtone", HA1MD5: "x", HA1SHA256: "x", Country: country, Currency: currency, Status: dialtone.AccountActive}
	if err := a.st.CreateAccount(ctx, acct); err != nil {
		return nil, err
	}
	return acct, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type api struct {
	t     *testing.T
	url   string
	st    dialtone.Store
	clock *clock
	guard *guard.Guard
	from  string // the client's address; 127.0.0.1 when empty
}

func eachStore(t *testing.T, signup string, f func(t *testing.T, a *api)) {
	eachStoreWith(t, signup, nil, f)
}

// eachStoreWith is eachStore with the Server's configuration changed by
// configure first.
func eachStoreWith(t *testing.T, signup string, configure func(*companion.Config), f func(t *testing.T, a *api)) {
	for name, open := range storetest.Stores() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
			bundles := []dialtone.Bundle{{Code: "world100", Name: "World 100", Seconds: 6000, Price: decimal.RequireFromString("0.99"),
				Currency: "USD", Validity: 30 * 24 * time.Hour, Increment: 60}}
			cfg := companion.DefaultSettings().Config(bundles, dialtone.DefaultLimits())
			cfg.Signup, cfg.InviteCodes, cfg.WebhookSecret, cfg.AttachmentDir = signup, []string{"welcome-2026"}, secret, t.TempDir()
			cfg.RoleTokens = []companion.RoleToken{{Name: "books", Token: financeToken, Role: companion.RoleFinance},
				{Name: "helpdesk", Token: supportToken, Role: "support"}, {Name: "noc", Token: operatorToken, Role: companion.RoleOperator}}
			g, err := guard.New(guard.Defaults(), guard.NewMemoryStore(), nil, slog.New(slog.DiscardHandler), c.now)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Close() })
			cfg.SIP = companion.SIP{Key: sipKey, TTL: time.Hour, Realm: "dialtone", Devices: devices{st}}
			if configure != nil {
				configure(&cfg)
			}
			s := companion.New(cfg, st, accounts{st}, g, c.now, slog.New(slog.DiscardHandler))
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(srv.Close)
			f(t, &api{t: t, url: srv.URL, st: st, clock: c, guard: g})
		})
	}
}

// do sends a request and decodes the JSON answer into a map.
func (a *api) do(method, path, token string, body any, headers ...string) (int, map[string]any) {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, a.url+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := http.DefaultClient
	if a.from != "" { // a client on another loopback address
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(a.from)}}
		client = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	}
	res, err := client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return res.StatusCode, out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// user signs up and in, and returns a token.
func (a *api) user(name string) string {
	a.t.Helper()
	if code, out := a.do("POST", "/api/v1/signup", "", map[string]string{"username": name, "password": "correct horse", "country": "US"}); code != 201 {
		a.t.Fatalf("signup %s = %d %v", name, code, out)
	}
	code, out := a.do("POST", "/api/v1/sessions", "", map[string]string{"username": name, "password": "correct horse"})
	if code != 201 {
		a.t.Fatalf("sign in %s = %d %v", name, code, out)
	}
	return out["token"].(string)
}

func (a *api) pay(id, user, amount string) (int, map[string]any) {
	body := fmt.Sprintf(`{"payment_id":%q,"username":%q,"amount":%q,"currency":"USD"}`, id, user, amount)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return a.do("POST", "/api/v1/webhooks/payments", "", body, "X-Signature", hex.EncodeToString(mac.Sum(nil)))
}

func (a *api) balance(token string) string {
	a.t.Helper()
	code, out := a.do("GET", "/api/v1/wallet", token, nil)
	if code != 200 {
		a.t.Fatalf("GET wallet = %d %v", code, out)
	}
	return out["balance"].(string)
}

func TestSignupAndTokens(t *testing.T) {
	eachStore(t, "invite", func(t *testing.T, a *api) {
		signup := func(body any) (int, string) {
			code, out := a.do("POST", "/api/v1/signup", "", body)
			return code, errCode(out)
		}
		for _, tt := range []struct {
			name string
			body any
			code int
			err  string
		}{
			{"no invite", map[string]string{"username": "alice", "password": "correct horse", "country": "US"}, 403, "invite_required"},
			{"wrong invite", map[string]string{"username": "alice", "password": "correct horse", "country": "US", "invite": "nope"}, 403, "invite_required"},
			{"malformed JSON", `{"username": "alice",`, 400, "invalid_json"},
			{"unknown field", `{"username": "alice", "password": "correct horse", "country": "US", "invite": "welcome-2026", "admin": true}`, 400, "invalid_json"},
			{"oversized body", `{"username": "` + strings.Repeat("a", 70<<10) + `"}`, 413, "too_large"},
			{"short password", map[string]string{"username": "alice", "password": "short", "country": "US", "invite": "welcome-2026"}, 400, "invalid"},
			{"bad country", map[string]string{"username": "alice", "password": "correct horse", "country": "USA", "invite": "welcome-2026"}, 400, "invalid"},
			{"good", map[string]string{"username": "alice", "password": "correct horse", "country": "US", "invite": "welcome-2026"}, 201, ""},
			{"taken", map[string]string{"username": "alice", "password": "correct horse", "country": "US", "invite": "welcome-2026"}, 409, "conflict"},
		} {
			if code, err := signup(tt.body); code != tt.code || err != tt.err {
				t.Errorf("signup %s = %d %q, want %d %q", tt.name, code, err, tt.code, tt.err)
			}
		}
		if code, out := a.do("POST", "/api/v1/sessions", "", map[string]string{"username": "alice", "password": "wrong password"}); code != 401 || errCode(out) != "bad_credentials" {
			t.Errorf("sign in with a wrong password = %d %v", code, out)
		}
		code, out := a.do("POST", "/api/v1/sessions", "", map[string]string{"username": "alice", "password": "correct horse"})
		if code != 201 {
			t.Fatalf("sign in = %d %v", code, out)
		}
		token := out["token"].(string)
		if code, out := a.do("GET", "/api/v1/me", token, nil); code != 200 || out["username"] != "alice" || out["caller_id"] != "" {
			t.Errorf("GET me = %d %v, want alice without a caller ID", code, out)
		}
		number := "+12025550142"
		if _, err := a.st.UpdateAccount(context.Background(), "alice", dialtone.AccountUpdate{CallerID: &number}); err != nil {
			t.Fatal(err)
		}
		if code, out := a.do("GET", "/api/v1/me", token, nil); code != 200 || out["caller_id"] != number {
			t.Errorf("GET me = %d %v, want caller_id %s", code, out, number)
		}
		for _, tok := range []string{"", "dt_not-a-token"} {
			if code, _ := a.do("GET", "/api/v1/me", tok, nil); code != 401 {
				t.Errorf("GET me with token %q = %d, want 401", tok, code)
			}
		}
		if code, _ := a.do("DELETE", "/api/v1/sessions/current", token, nil); code != 204 {
			t.Errorf("sign out = %d", code)
		}
		if code, _ := a.do("GET", "/api/v1/me", token, nil); code != 401 {
			t.Errorf("GET me with a revoked token = %d, want 401", code)
		}
		_, out = a.do("POST", "/api/v1/sessions", "", map[string]string{"username": "alice", "password": "correct horse"})
		token = out["token"].(string)
		a.clock.add(31 * 24 * time.Hour)
		if code, _ := a.do("GET", "/api/v1/me", token, nil); code != 401 {
			t.Errorf("GET me with an expired token = %d, want 401", code)
		}
		if code, out := a.do("GET", "/api/v1/openapi.json", "", nil); code != 200 || out["openapi"] != "3.1.0" {
			t.Errorf("GET openapi.json = %d", code)
		}
	})
}

// TestSignInBehindProxy: behind a trusted reverse proxy (127.0.0.9, and
// the 10.0.0.0/8 proxies before it), the guard counts each client by the
// last untrusted address in X-Forwarded-For: a guesser is banned by its
// own address while another client behind the same proxy signs in; what a
// client writes in the header itself counts for nothing, and the header
// from an untrusted peer is ignored.
func TestSignInBehindProxy(t *testing.T) {
	trust := func(c *companion.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32"), netip.MustParsePrefix("10.0.0.0/8")}
	}
	eachStoreWith(t, "open", trust, func(t *testing.T, a *api) {
		a.user("alice") // password "correct horse"
		signIn := func(from, forwarded, password string) int {
			t.Helper()
			a.from = from
			defer func() { a.from = "" }()
			var headers []string
			if forwarded != "" {
				headers = []string{"X-Forwarded-For", forwarded}
			}
			code, _ := a.do("POST", "/api/v1/sessions", "", map[string]string{"username": "alice", "password": password}, headers...)
			return code
		}
		// The guesser writes another client's address first; its proxies
		// append its real one and their own.
		failures := guard.Defaults().Failures
		for range failures {
			if code := signIn("127.0.0.9", "198.51.100.7, 203.0.113.5, 10.1.2.3", "guess"); code != 401 {
				t.Fatalf("guess behind the proxy = %d, want 401", code)
			}
		}
		for _, c := range []struct {
			from, forwarded string
			want            int
			who             string
		}{
			{"127.0.0.9", "203.0.113.5", 429, "the guesser behind the proxy, banned"},
			{"127.0.0.9", "198.51.100.7", 201, "another client behind the same proxy"},
			{"127.0.0.9", "", 201, "the proxy itself (no header)"},
			{"127.0.0.9", "not-an-address", 201, "a malformed header through the proxy (counted as the proxy)"},
			// From a peer that is not a proxy, the header is the client's
			// own words: the banned address in it changes nothing.
			{"127.0.0.4", "203.0.113.5", 201, "an untrusted peer naming the banned address"},
		} {
			if code := signIn(c.from, c.forwarded, "correct horse"); code != c.want {
				t.Errorf("%s: sign in with the right password = %d, want %d", c.who, code, c.want)
			}
		}
		if bans := a.guard.Bans(); len(bans) != 1 || bans[0].Addr.String() != "203.0.113.5" {
			t.Errorf("bans = %v, want the guesser's 203.0.113.5 alone (not the proxy, not the forged address)", bans)
		}
	})
}

func TestTrustedProxiesSetting(t *testing.T) {
	s := companion.DefaultSettings()
	s.TrustedProxies = []string{"127.0.0.9", "10.0.0.0/8", "2001:db8::/32"}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate(%v) = %v", s.TrustedProxies, err)
	}
	if c := s.Config(nil, dialtone.DefaultLimits()); len(c.TrustedProxies) != 3 {
		t.Errorf("Config().TrustedProxies = %v, want 3 prefixes", c.TrustedProxies)
	}
	s.TrustedProxies = []string{"proxy.example"}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "api.trusted_proxies") {
		t.Errorf("Validate(a host name) = %v, want an api.trusted_proxies error", err)
	}
}

// TestSignInGuard: sign-in failures count in the guard the SIP transports
// share: guesses from one address ban it (429 even with the right
// password), SIP failures from an address ban it here too, and guesses
// on one username from many addresses slow that username down.
func TestSignInGuard(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		a.user("alice") // password "correct horse"
		signIn := func(from, user, password string) (int, map[string]any) {
			t.Helper()
			a.from = from
			defer func() { a.from = "" }()
			return a.do("POST", "/api/v1/sessions", "", map[string]string{"username": user, "password": password})
		}
		// An unknown user and a wrong password look alike.
		wrong, wrongOut := signIn("", "alice", "guess")
		unknown, unknownOut := signIn("", "mallory", "guess")
		if wrong != 401 || unknown != 401 || fmt.Sprint(wrongOut) != fmt.Sprint(unknownOut) {
			t.Errorf("wrong password = %d %v, unknown user = %d %v; want the same 401", wrong, wrongOut, unknown, unknownOut)
		}
		// Ten failures ban the address (the guard's defaults), the right
		// password included.
		failures := guard.Defaults().Failures
		for range failures - 3 {
			signIn("", "alice", "guess")
		}
		if code, out := signIn("", "alice", "correct horse"); code != 201 {
			t.Errorf("sign in after %d failures = %d %v, want 201 (not banned yet)", failures-1, code, out)
		}
		signIn("", "alice", "guess")
		if code, out := signIn("", "alice", "correct horse"); code != 429 || errCode(out) != "rate_limited" {
			t.Errorf("sign in after %d failures = %d %v, want 429", failures, code, out)
		}
		if bans := a.guard.Bans(); len(bans) != 1 || bans[0].Addr.String() != "127.0.0.1" {
			t.Errorf("bans = %v, want 127.0.0.1", bans)
		}
		if code, _ := signIn("127.0.0.2", "alice", "correct horse"); code != 201 {
			t.Errorf("sign in from another address = %d, want 201", code)
		}
		a.clock.add(guard.Defaults().BanTime)
		if code, out := signIn("", "alice", "correct horse"); code != 201 {
			t.Errorf("sign in once the ban is over = %d %v, want 201", code, out)
		}

		// SIP failures from an address ban it here too.
		for range failures {
			a.guard.AuthFailed(netip.MustParseAddr("127.0.0.3"), "alice", "udp")
		}
		if code, _ := signIn("127.0.0.3", "alice", "correct horse"); code != 429 {
			t.Errorf("sign in from an address banned on SIP = %d, want 429", code)
		}

		// Guesses on bob from 12 addresses, none of them banned, put bob
		// under attack: attempts past one a second are refused unchecked.
		a.clock.add(time.Hour)
		a.user("bob")
		for i := range guard.Defaults().UserFailures + 1 {
			if code, _ := signIn(fmt.Sprintf("127.0.1.%d", 1+i%12), "bob", "guess"); code != 401 {
				t.Fatalf("guess %d = %d, want 401", i+1, code)
			}
		}
		if code, _ := signIn("127.0.2.1", "bob", "correct horse"); code != 401 {
			t.Errorf("bob's right password while under attack, over the rate = %d, want 401 (refused unchecked)", code)
		}
		a.clock.add(time.Second)
		if code, out := signIn("127.0.2.1", "bob", "correct horse"); code != 201 {
			t.Errorf("bob's right password a second later = %d %v, want 201", code, out)
		}
		if bans := a.guard.Bans(); len(bans) != 0 { // 127.0.0.3's ended within the hour
			t.Errorf("bans = %v, want none: the guesses came from 12 addresses", bans)
		}
	})
}

func TestWalletAndTransfers(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		alice, bob := a.user("alice"), a.user("bob")
		if code, out := a.do("POST", "/api/v1/webhooks/payments", "", `{"payment_id":"p0","username":"alice","amount":"10","currency":"USD"}`, "X-Signature", "00"); code != 401 {
			t.Errorf("webhook with a bad signature = %d %v, want 401", code, out)
		}
		if code, out := a.pay("p1", "alice", "10.00"); code != 200 || out["credited"] != true {
			t.Fatalf("webhook = %d %v", code, out)
		}
		if got := a.balance(alice); got != "10.00" {
			t.Errorf("alice's balance = %s, want 10.00", got)
		}
		send := func(token, key string, body any) (int, map[string]any) {
			return a.do("POST", "/api/v1/wallet/transfers", token, body, "Idempotency-Key", key)
		}
		for _, tt := range []struct {
			name, key string
			body      any
			code      int
		}{
			{"no key", "", map[string]string{"to": "bob", "amount": "1"}, 400},
			{"negative", "key-neg-1", map[string]string{"to": "bob", "amount": "-1"}, 400},
			{"zero", "key-zero-1", map[string]string{"to": "bob", "amount": "0"}, 400},
			{"over-precise", "key-prec-1", map[string]string{"to": "bob", "amount": "0.001"}, 400},
			{"not a number", "key-nan-01", map[string]string{"to": "bob", "amount": "ten"}, 400},
			{"number not string", "key-num-01", `{"to": "bob", "amount": 1}`, 400},
			{"to nobody", "key-nobody", map[string]string{"to": "carol", "amount": "1"}, 404},
			{"to oneself", "key-self-01", map[string]string{"to": "alice", "amount": "1"}, 400},
			{"too much", "key-much-01", map[string]string{"to": "bob", "amount": "10.01"}, 402},
		} {
			if code, out := send(alice, tt.key, tt.body); code != tt.code {
				t.Errorf("transfer %s = %d %v, want %d", tt.name, code, out, tt.code)
			}
		}
		if got := a.balance(alice); got != "10.00" {
			t.Errorf("after refused transfers alice has %s, want 10.00", got)
		}
		if code, out := send(alice, "transfer-0001", map[string]string{"to": "bob", "amount": "2.50", "memo": "lunch"}); code != 201 || out["replayed"] != false {
			t.Errorf("transfer = %d %v", code, out)
		}
		if code, out := send(alice, "transfer-0001", map[string]string{"to": "bob", "amount": "2.50", "memo": "lunch"}); code != 200 || out["replayed"] != true {
			t.Errorf("the same transfer retried = %d %v, want 200 replayed", code, out)
		}
		if code, out := send(alice, "transfer-0001", map[string]string{"to": "bob", "amount": "3.00"}); code != 409 {
			t.Errorf("the key reused for another amount = %d %v, want 409", code, out)
		}
		if a.balance(alice) != "7.50" || a.balance(bob) != "2.50" {
			t.Errorf("balances alice %s bob %s, want 7.50 and 2.50", a.balance(alice), a.balance(bob))
		}
		if code, out := a.do("POST", "/api/v1/wallet/bundles", alice, map[string]string{"code": "world100"}, "Idempotency-Key", "bundle-0001"); code != 201 {
			t.Errorf("buy bundle = %d %v", code, out)
		}
		if code, _ := a.do("POST", "/api/v1/wallet/bundles", alice, map[string]string{"code": "world100"}, "Idempotency-Key", "bundle-0001"); code != 200 {
			t.Errorf("buy bundle retried = %d, want 200", code)
		}
		_, w := a.do("GET", "/api/v1/wallet", alice, nil)
		if w["balance"] != "6.51" || len(w["bundles"].([]any)) != 1 {
			t.Errorf("wallet after a bundle = %v, want 6.51 and one bundle", w)
		}
		// History, a page of one at a time, newest first.
		var kinds []string
		cursor := ""
		for range 5 {
			_, page := a.do("GET", "/api/v1/wallet/history?limit=1"+cursor, alice, nil)
			for _, it := range page["items"].([]any) {
				kinds = append(kinds, it.(map[string]any)["kind"].(string))
			}
			next, _ := page["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = "&cursor=" + next
		}
		if strings.Join(kinds, ",") != "bundle,transfer,topup" {
			t.Errorf("history pages = %v, want bundle, transfer, topup", kinds)
		}
		if code, _ := a.do("GET", "/api/v1/wallet/history?limit=1000", alice, nil); code != 400 {
			t.Errorf("limit 1000 = %d, want 400", code)
		}
		// Each sees only their own wallet; nothing without a token.
		_, bw := a.do("GET", "/api/v1/wallet/history", bob, nil)
		if items := bw["items"].([]any); len(items) != 1 || items[0].(map[string]any)["amount"] != "2.50" {
			t.Errorf("bob's history = %v, want only the 2.50 he received", bw)
		}
		// A call is one line: its reservations folded in, with the number,
		// the billed seconds and the charge.
		ctx := context.Background()
		cdr := storetest.NewCDR(t, a.st, "alice", "call-1", a.clock.now())
		me, _ := a.st.AccountByUsername(ctx, "alice")
		if err := a.st.OpenSession(ctx, &dialtone.CallSession{ID: "call-1", Node: "n", AccountID: me.ID, Currency: "USD", CDR: *cdr}, nil); err != nil {
			t.Fatal(err)
		}
		for seq := 1; seq <= 2; seq++ {
			if err := a.st.Reserve(ctx, dialtone.Reservation{SessionID: "call-1", Seq: seq, Money: storetest.D("0.05"), Covered: int64(60 * seq)}); err != nil {
				t.Fatal(err)
			}
		}
		_, hw := a.do("GET", "/api/v1/wallet/history?limit=1", alice, nil)
		if it := hw["items"].([]any)[0].(map[string]any); it["kind"] != "call" || it["amount"] != "-0.10" || it["call"].(map[string]any)["state"] != "on hold" {
			t.Errorf("history during a call = %v, want one call on hold of -0.10", hw)
		}
		cdr.Price = storetest.D("0.0512")
		if err := a.st.Settle(ctx, dialtone.Settlement{SessionID: "call-1", Price: cdr.Price}, cdr); err != nil {
			t.Fatal(err)
		}
		_, hw = a.do("GET", "/api/v1/wallet/history?limit=2", alice, nil)
		items := hw["items"].([]any)
		call, _ := items[0].(map[string]any)["call"].(map[string]any)
		if it := items[0].(map[string]any); it["kind"] != "call" || it["amount"] != "-0.0512" || it["balance"] != "6.4588" || it["currency"] != "USD" ||
			call["number"] != "+447400123456" || call["billed_seconds"] != 60.0 || call["duration_seconds"] != 60.0 || call["charge"] != "0.0512" || call["state"] != "charged" {
			t.Errorf("history after the call = %v, want the call as one line", items[0])
		}
		if items[1].(map[string]any)["kind"] != "bundle" {
			t.Errorf("history after the call = %v, want the bundle next: the holds are folded into the call", items)
		}
		for _, ep := range []string{"GET /api/v1/me", "GET /api/v1/wallet", "GET /api/v1/wallet/history", "POST /api/v1/wallet/transfers", "POST /api/v1/wallet/bundles", "DELETE /api/v1/sessions/current"} {
			method, path, _ := strings.Cut(ep, " ")
			if code, _ := a.do(method, path, "", nil); code != 401 {
				t.Errorf("%s without a token = %d, want 401", ep, code)
			}
		}
		storetest.CheckLedger(t, a.st)
	})
}

// TestWebhookReplay: the same payment delivered 20 times at once credits once.
func TestWebhookReplay(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		alice := a.user("alice")
		var wg sync.WaitGroup
		var credited atomic.Int32
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, out := a.pay("pay-777", "alice", "5.00")
				if code != 200 {
					t.Errorf("webhook = %d %v", code, out)
				}
				if out["credited"] == true {
					credited.Add(1)
				}
			}()
		}
		wg.Wait()
		if credited.Load() != 1 || a.balance(alice) != "5.00" {
			t.Errorf("20 deliveries credited %d times, balance %s; want once and 5.00", credited.Load(), a.balance(alice))
		}
		if code, _ := a.pay("pay-777", "alice", "6.00"); code != 409 {
			t.Errorf("the same payment id with another amount = %d, want 409", code)
		}
		storetest.CheckLedger(t, a.st)
	})
}
