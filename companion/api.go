// Package companion is the HTTP API of the switch, everything under
// /api/v1: for app users, sign-up and sign-in (the API password, bcrypt,
// signs in here only) and bearer tokens; SIP credentials: short-lived app
// credentials for the signed-in app and per-device credentials
// (credentials.go, devices.go); the wallet (balance, history,
// transfers, bundle purchases, payment-provider top-ups by signed webhook);
// red envelopes; chat (conversations, messages, attachments, and live
// events over a WebSocket); organizations (members, deposits, leave,
// expenses, attendance); and, for operators, the finance export of CDRs
// (GET /api/v1/cdrs), authorized by the role tokens of the configuration
// (api.tokens), not by sign-in tokens. All money moves through the ledger
// of the store; a bundle is bought with dialtone.BuyBundle, as the CLI does.
//
// It owns the api section of the configuration file (Settings: defaults
// and validation) and the API's conventions: JSON in and out; unknown
// fields, bodies over 64 KiB and amounts that are not plain decimals of at
// most two places are refused with 400; every error is {"error": {"code",
// "message"}}, and domain errors get their status from one table
// (statuses); lists are paginated with a cursor; every movement of money
// needs an Idempotency-Key. The OpenAPI document is served at
// /api/v1/openapi.json.
//
// Sign-in shares the switch's Guard: a failed sign-in counts against the
// client's address and the username exactly as a failed SIP
// authentication does, so a source banned for guessing on SIP cannot sign
// in here, and the reverse.
//
// Concurrency: a Server is safe for concurrent use; each request runs in
// its own goroutine. Its mutable state is the live-event hub (guarded by
// its own mutex;
// each WebSocket has a writer goroutine fed by a bounded channel, and a
// slow reader is dropped rather than waited for). Live events cross API
// nodes through the Bus of the Config (one per store: in process for
// SQLite, LISTEN/NOTIFY for PostgreSQL). Everything else is in the store.
package companion

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/crypto/bcrypt"

	"github.com/dialtone/dialtone"
)

//go:embed openapi.json
var openAPI []byte

// Store is what the API needs from storage.
type Store interface {
	AccountByUsername(ctx context.Context, username string) (*dialtone.Account, error)
	AccountByID(ctx context.Context, id int64) (*dialtone.Account, error)
	dialtone.TokenStore
	dialtone.LedgerStore
	dialtone.HistoryStore
	dialtone.BundleStore
	dialtone.EnvelopeStore
	dialtone.ChatStore
	dialtone.OrgStore
	dialtone.LimitStore
	Devices(ctx context.Context, accountID int64) ([]*dialtone.Device, error)
	RevokeDevice(ctx context.Context, accountID, id int64, at time.Time) (*dialtone.Device, error)
	ExportCDRs(ctx context.Context, f dialtone.CDRFilter, format dialtone.ExportFormat, w io.Writer) (int64, error)
}

// Accounts creates accounts with their SIP credentials (the switch's
// digest hashes are made by the caller's implementation).
type Accounts interface {
	Create(ctx context.Context, username, password, country, currency string) (*dialtone.Account, error)
}

// Guard refuses sources banned for guessing passwords and slows down
// guesses on one username; package switch/guard implements it, one
// instance for the SIP transports and this API. Its rules (how many
// failures ban, for how long) are the guard section of the configuration.
type Guard interface {
	Banned(src netip.Addr) bool
	// UserAllowed is false while username is under attack and its
	// attempts are over their rate: such an attempt is refused as a wrong
	// password is, unchecked and not counted.
	UserAllowed(username string) bool
	// AuthFailed counts a failed sign-in from src on username; transport
	// is "api".
	AuthFailed(src netip.Addr, username, transport string)
}

// Config tunes the API. Settings.Config makes one from the configuration
// file; every field is used as given (the defaults are DefaultSettings').
type Config struct {
	// Signup is "open", "invite" (an invite code from InviteCodes is
	// required) or "closed" (anything else is closed too).
	Signup      string
	InviteCodes []string
	TokenTTL    time.Duration // lifetime of a sign-in token
	// WebhookSecret signs payment-provider webhooks (HMAC-SHA256 of the body,
	// hex, in X-Signature).
	WebhookSecret string
	Bundles       []dialtone.Bundle
	// EnvelopeTTL is how long a red envelope may be grabbed before what is
	// left goes back to its sender.
	EnvelopeTTL time.Duration
	// AttachmentDir is where uploaded files are kept; empty: no uploads.
	AttachmentDir string
	// RoleTokens are the operators' bearer tokens (not app users'): each
	// lets its holder call the endpoints of its role.
	RoleTokens []RoleToken
	// Limits are the limits of accounts that set none of their own
	// (shown beside an account's own).
	Limits dialtone.Limits
	// SIP hands out SIP credentials (credentials.go).
	SIP SIP
	// Quoter prices numbers for GET /api/v1/quote; nil: the endpoint
	// answers 404.
	Quoter Quoter
	// Bus carries live events to the WebSockets of every node sharing the
	// store; nil is an in-process bus (one node).
	Bus Bus
	// TrustedProxies are the reverse proxies in front of the API: from
	// them, the client is the last address in X-Forwarded-For that is not
	// one of them (clientAddr).
	TrustedProxies []netip.Prefix
}

// Server serves the API.
type Server struct {
	cfg      Config
	store    Store
	accounts Accounts
	guard    Guard
	now      func() time.Time
	log      *slog.Logger

	hub hub
}

// New returns a server; now is its clock and guard judges its sign-ins.
func New(cfg Config, store Store, accounts Accounts, guard Guard, now func() time.Time, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, store: store, accounts: accounts, guard: guard, now: now, log: log}
	bus := cfg.Bus
	if bus == nil {
		bus = NewLocalBus()
	}
	s.hub.attach(bus, log)
	return s
}

// Handler routes /api/v1/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.HandleFunc("POST /api/v1/signup", s.signup)
	mux.HandleFunc("POST /api/v1/sessions", s.signin)
	mux.Handle("DELETE /api/v1/sessions/current", s.auth(s.signout))
	mux.Handle("GET /api/v1/me", s.auth(s.me))
	mux.Handle("POST /api/v1/sip-credentials", s.auth(s.sipCredentials))
	mux.Handle("GET /api/v1/devices", s.auth(s.devices))
	mux.Handle("POST /api/v1/devices", s.auth(s.createDevice))
	mux.Handle("DELETE /api/v1/devices/{id}", s.auth(s.revokeDevice))
	mux.Handle("GET /api/v1/quote", s.auth(s.quote))
	mux.Handle("GET /api/v1/wallet", s.auth(s.wallet))
	mux.Handle("GET /api/v1/wallet/history", s.auth(s.history))
	mux.Handle("POST /api/v1/wallet/transfers", s.auth(s.transfer))
	mux.Handle("GET /api/v1/wallet/bundles", s.auth(s.bundleCatalog))
	mux.Handle("POST /api/v1/wallet/bundles", s.auth(s.buyBundle))
	mux.HandleFunc("POST /api/v1/webhooks/payments", s.paymentWebhook)
	mux.Handle("POST /api/v1/envelopes", s.auth(s.createEnvelope))
	mux.Handle("POST /api/v1/envelopes/{id}/grab", s.auth(s.grabEnvelope))
	mux.Handle("GET /api/v1/envelopes/{id}", s.auth(s.envelope))
	mux.Handle("POST /api/v1/conversations", s.auth(s.createConversation))
	mux.Handle("GET /api/v1/conversations", s.auth(s.conversations))
	mux.Handle("GET /api/v1/conversations/{id}", s.auth(s.conversation))
	mux.Handle("GET /api/v1/conversations/{id}/messages", s.auth(s.messages))
	mux.Handle("POST /api/v1/conversations/{id}/messages", s.auth(s.postMessage))
	mux.Handle("POST /api/v1/conversations/{id}/read", s.auth(s.markRead))
	mux.Handle("GET /api/v1/messages", s.auth(s.messagesAfter))
	mux.Handle("POST /api/v1/attachments", s.auth(s.upload))
	mux.Handle("GET /api/v1/attachments/{id}", s.auth(s.download))
	mux.Handle("GET /api/v1/live", s.auth(s.live))
	mux.Handle("POST /api/v1/orgs", s.auth(s.createOrg))
	mux.Handle("GET /api/v1/orgs/{org}", s.auth(s.org))
	mux.Handle("PUT /api/v1/orgs/{org}/members/{username}", s.auth(s.setMember))
	mux.Handle("POST /api/v1/orgs/{org}/deposits", s.auth(s.deposit))
	mux.Handle("POST /api/v1/orgs/{org}/leave", s.auth(s.requestLeave))
	mux.Handle("GET /api/v1/orgs/{org}/leave/balance", s.auth(s.leaveBalance))
	mux.Handle("POST /api/v1/orgs/{org}/leave/{id}/{decision}", s.auth(s.decideLeave))
	mux.Handle("POST /api/v1/orgs/{org}/expenses", s.auth(s.claimExpense))
	mux.Handle("GET /api/v1/orgs/{org}/expenses", s.auth(s.expenses))
	mux.Handle("POST /api/v1/orgs/{org}/expenses/{id}/reimburse", s.auth(s.reimburse))
	mux.Handle("POST /api/v1/orgs/{org}/expenses/{id}/{decision}", s.auth(s.decideExpense))
	mux.Handle("POST /api/v1/orgs/{org}/clock-in", s.auth(s.clock(true)))
	mux.Handle("POST /api/v1/orgs/{org}/clock-out", s.auth(s.clock(false)))
	mux.Handle("GET /api/v1/orgs/{org}/attendance", s.auth(s.attendance))
	mux.Handle("/api/v1/cdrs", s.requireRole(RoleFinance, s.exportCDRs)) // any method: exportCDRs answers 405 in the API's shape
	mux.Handle("GET /api/v1/accounts/{username}/limits", s.requireRole(RoleOperator, s.limits))
	mux.Handle("PUT /api/v1/accounts/{username}/limits", s.requireRole(RoleOperator, s.setLimits))
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// apiError is every error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

// WriteError writes the API's error body, {"error": {"code", "message"}},
// for the switch's other HTTP handlers (the admin listener), so that every
// JSON error the switch sends has one shape.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	writeError(w, status, code, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statuses is the one table of the API's errors: the first entry whose
// error the handler's error wraps gives the status and code. Handlers call
// fail with an error; they write a status of their own only for what is
// not a domain error (authentication, a malformed body or query).
var statuses = []struct {
	err    error
	status int
	code   string
	msg    string // replaces the error's text; empty: the error's text
}{
	{dialtone.ErrInvalid, http.StatusBadRequest, "invalid", ""},
	{dialtone.ErrNotFound, http.StatusNotFound, "not_found", ""},
	{dialtone.ErrConflict, http.StatusConflict, "conflict", ""},
	{dialtone.ErrInsufficientFunds, http.StatusPaymentRequired, "insufficient_funds", "not enough money in the wallet"},
	{dialtone.ErrForbidden, http.StatusForbidden, "forbidden", ""},
	{dialtone.ErrExhausted, http.StatusGone, "empty", ""},
	{dialtone.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", ""},
}

// fail writes err as the status and code statuses gives it; anything else
// is logged and answered 500.
func (s *Server) fail(w http.ResponseWriter, err error) {
	for _, e := range statuses {
		if errors.Is(err, e.err) {
			msg := e.msg
			if msg == "" {
				msg = err.Error()
			}
			writeError(w, e.status, e.code, msg)
			return
		}
	}
	s.log.Error("api error", "error", err)
	writeError(w, http.StatusInternalServerError, "internal", "something went wrong; try again")
}

const maxBody = 64 << 10

// decode reads a JSON body strictly: one object, known fields, bounded size.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", maxBody))
		case errors.Is(err, io.EOF):
			writeError(w, http.StatusBadRequest, "invalid_json", "the body is empty; send a JSON object")
		default:
			writeError(w, http.StatusBadRequest, "invalid_json", "the body is not the JSON object expected: "+err.Error())
		}
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid_json", "the body holds more than one JSON value")
		return false
	}
	return true
}

// amount reads a money amount in currency cur: a positive plain decimal
// of at most the currency's minor-unit places (2 for USD, 0 for JPY).
func amount(s, cur string) (decimal.Decimal, error) {
	d, err := dialtone.ParseAmount(s)
	if err != nil {
		return d, err
	}
	if !d.IsPositive() {
		return d, fmt.Errorf("%w amount %s: must be positive", dialtone.ErrInvalid, s)
	}
	if places := int32(dialtone.CurrencyPlaces(cur)); !d.Equal(d.Truncate(places)) {
		return d, fmt.Errorf("%w amount %s: at most %d decimal places in %s", dialtone.ErrInvalid, s, places, cur)
	}
	return d, nil
}

// signup: POST /api/v1/signup
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Country  string `json:"country"`
		Currency string `json:"currency"`
		Invite   string `json:"invite"`
	}
	if !decode(w, r, &in) {
		return
	}
	switch s.cfg.Signup {
	case "open":
	case "invite":
		ok := false
		for _, c := range s.cfg.InviteCodes {
			if hmac.Equal([]byte(c), []byte(in.Invite)) {
				ok = true
			}
		}
		if !ok {
			writeError(w, http.StatusForbidden, "invite_required", "sign-up needs a valid invite code")
			return
		}
	default:
		writeError(w, http.StatusForbidden, "signup_closed", "sign-up is closed; ask an operator for an account")
		return
	}
	if len(in.Password) < 8 || len(in.Password) > 72 {
		writeError(w, http.StatusBadRequest, "invalid", "password must be 8 to 72 characters")
		return
	}
	if in.Currency == "" {
		in.Currency = "USD"
	}
	a, err := s.accounts.Create(r.Context(), in.Username, in.Password, strings.ToUpper(in.Country), strings.ToUpper(in.Currency))
	if err != nil {
		s.fail(w, err)
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), bcrypt.DefaultCost)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.store.SetPassword(r.Context(), a.ID, string(hash)); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, accountView(a))
}

type accountJSON struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Country  string `json:"country"`
	Currency string `json:"currency"`
	Status   string `json:"status"`
	CallerID string `json:"caller_id"` // the verified number calls may present; "" none
}

func accountView(a *dialtone.Account) accountJSON {
	return accountJSON{ID: a.ID, Username: a.Username, Country: a.Country, Currency: a.Currency, Status: string(a.Status),
		CallerID: a.CallerID}
}

// noSuchUser is a bcrypt hash (of a password nobody has, at the cost
// signup uses) checked when the username is unknown, so that an unknown
// user takes the same time to refuse as a wrong password.
const noSuchUser = "$2a$10$TyoaFiJaK6BeHKnmhCXDAOvH253Up1fPWOjVBQPr91ZwZouFoCjie"

// signin: POST /api/v1/sessions. An unknown user and a wrong password get
// the same 401 after the same hash work; either counts as a failure in
// the guard. A banned source gets 429 whatever it sends.
func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	src := s.clientAddr(r)
	if s.guard.Banned(src) {
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed sign-ins from this address; try again later")
		return
	}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !decode(w, r, &in) {
		return
	}
	bad := func() {
		writeError(w, http.StatusUnauthorized, "bad_credentials", "wrong username or password")
	}
	if !s.guard.UserAllowed(in.Username) { // under attack: refused unchecked
		bad()
		return
	}
	a, err := s.store.AccountByUsername(r.Context(), in.Username)
	if err != nil && !errors.Is(err, dialtone.ErrNotFound) {
		s.fail(w, err)
		return
	}
	hash := ""
	if a != nil && err == nil {
		if hash, err = s.store.PasswordHash(r.Context(), a.ID); err != nil {
			s.fail(w, err)
			return
		}
	}
	ok := hash != ""
	if !ok {
		hash = noSuchUser
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.Password)) != nil || !ok {
		s.guard.AuthFailed(src, in.Username, "api")
		bad()
		return
	}
	if a.Status != dialtone.AccountActive {
		writeError(w, http.StatusForbidden, "account_disabled", "this account is disabled")
		return
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	token := "dt_" + hex.EncodeToString(raw[:])
	now := s.now()
	t := &dialtone.Token{Hash: hashToken(token), AccountID: a.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL)}
	if err := s.store.CreateToken(r.Context(), t); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": token, "expires_at": t.ExpiresAt.UTC().Format(time.RFC3339), "account": accountView(a)})
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// clientAddr is the IP the request came from, for the guard: the peer of
// the TCP connection, unless that is a trusted proxy. Then it is the last
// address in X-Forwarded-For that is not a trusted proxy: each proxy
// appends the address it got the request from, so the entries left of
// that one are the client's own words (and a forgery is among them). A
// header from a trusted proxy that is missing or malformed leaves the
// proxy as the source. The zero Addr when RemoteAddr is not IP:port.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	peer := ap.Addr().Unmap()
	if !s.trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" && len(hops) == 1 {
			break // no header
		}
		a, err := netip.ParseAddr(hop)
		if err != nil {
			return peer
		}
		if a = a.Unmap(); !s.trusted(a) {
			return a
		}
	}
	return peer
}

// trusted reports whether a is one of the API's trusted proxies.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type ctxKey struct{}

type caller struct {
	account *dialtone.Account
	token   string // its hash
}

// auth lets a request through with a live bearer token, and gives the
// handler its account.
func (s *Server) auth(next func(http.ResponseWriter, *http.Request, *caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok && r.URL.Path == "/api/v1/live" { // a browser's WebSocket cannot send headers
			raw, ok = r.URL.Query().Get("access_token"), true
		}
		if !ok || raw == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dialtone"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "send Authorization: Bearer TOKEN (POST /api/v1/sessions gives one)")
			return
		}
		t, err := s.store.TokenByHash(r.Context(), hashToken(raw))
		if err != nil || !t.Live(s.now()) {
			if err != nil && !errors.Is(err, dialtone.ErrNotFound) {
				s.fail(w, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="dialtone", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", "the token is unknown, expired or revoked")
			return
		}
		a, err := s.store.AccountByID(r.Context(), t.AccountID)
		if err != nil {
			s.fail(w, err)
			return
		}
		if a.Status != dialtone.AccountActive {
			writeError(w, http.StatusForbidden, "account_disabled", "this account is disabled")
			return
		}
		next(w, r, &caller{account: a, token: t.Hash})
	})
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.store.RevokeToken(r.Context(), c.token, s.now()); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request, c *caller) {
	writeJSON(w, http.StatusOK, accountView(c.account))
}
