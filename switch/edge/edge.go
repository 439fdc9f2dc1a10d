// Package edge is the switch's SIP front door: it serves the listeners it
// is given (UDP, TCP, TLS, WebSocket ws and wss), answers OPTIONS, runs the
// registrar, authenticates every INVITE and REGISTER with digest auth (RFC
// 3261 section 22, RFC 8760), and hands authenticated calls to the call
// controller. It owns its part of the sip section of the configuration
// file (Settings: listeners, TLS files, digest auth, registrar limits).
//
// Concurrency: sipgo runs each request in its own goroutine; the edge's
// own state (the registrar's bindings) is guarded by a mutex. Serve starts
// one goroutine per listener; Close stops them and waits.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/digest"
)

// Accounts finds the account behind a username.
type Accounts interface {
	AccountByUsername(ctx context.Context, username string) (*dialtone.Account, error)
}

// Calls is the call controller the edge hands calls to.
type Calls interface {
	// HandleInvite runs a call. acct is nil for a re-INVITE inside a dialog.
	HandleInvite(acct *dialtone.Account, req *sip.Request, tx sip.ServerTransaction)
	HandleAck(req *sip.Request, tx sip.ServerTransaction)
	HandleBye(req *sip.Request, tx sip.ServerTransaction)
}

// Config tunes the edge.
type Config struct {
	Realm      string
	UserAgent  string
	MaxExpires int // longest registration we grant, in seconds
	// WSAuthAlgorithms are the digest challenges sent to requests that
	// came over WebSocket (ws, wss), in this order; the server's own when
	// empty. The browser SIP stacks (JsSIP, SIP.js) know only MD5 and read
	// only the last challenge, so a SHA-256 one after MD5 locks them out.
	WSAuthAlgorithms []digest.Algorithm
}

// Listener is one bound socket the edge serves SIP on.
type Listener struct {
	Transport string         // "udp" or "tcp"
	Packet    net.PacketConn // for udp
	Stream    net.Listener   // for tcp and ws; for tls and wss wrapped by tls.NewListener
}

// Edge is the SIP front door.
type Edge struct {
	cfg      Config
	srv      *sipgo.Server
	auth     *digest.Server
	accounts Accounts
	calls    Calls
	reg      *Registrar
	log      *slog.Logger

	mu        sync.Mutex
	listeners []Listener
	wg        sync.WaitGroup
}

// New registers the edge's handlers on srv.
func New(cfg Config, srv *sipgo.Server, auth *digest.Server, accounts Accounts, calls Calls, reg *Registrar, log *slog.Logger) *Edge {
	e := &Edge{cfg: cfg, srv: srv, auth: auth, accounts: accounts, calls: calls, reg: reg, log: log}
	srv.OnInvite(e.onInvite)
	srv.OnAck(calls.HandleAck)
	srv.OnBye(calls.HandleBye)
	srv.OnCancel(e.onCancel)
	srv.OnRegister(e.onRegister)
	srv.OnOptions(e.onOptions)
	srv.OnNoRoute(e.onNoRoute)
	return e
}

// Serve serves SIP on each listener until Close.
func (e *Edge) Serve(ls []Listener) {
	e.mu.Lock()
	e.listeners = append(e.listeners, ls...)
	e.mu.Unlock()
	for _, l := range ls {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			var err error
			switch l.Transport {
			case "udp":
				err = e.srv.ServeUDP(l.Packet)
			case "tcp":
				err = e.srv.ServeTCP(l.Stream)
			case "tls":
				err = e.srv.ServeTLS(l.Stream) // a tls.Listener
			case "ws": // RFC 7118
				err = e.srv.ServeWS(l.Stream)
			case "wss":
				err = e.srv.ServeWSS(l.Stream) // a tls.Listener
			}
			if err != nil && !errors.Is(err, net.ErrClosed) {
				e.log.Error("sip listener stopped", "transport", l.Transport, "error", err)
			}
		}()
	}
}

// Close stops the listeners and waits for them.
func (e *Edge) Close() error {
	e.mu.Lock()
	ls := e.listeners
	e.listeners = nil
	e.mu.Unlock()
	var errs []error
	for _, l := range ls {
		if l.Packet != nil {
			errs = append(errs, l.Packet.Close())
		}
		if l.Stream != nil {
			errs = append(errs, l.Stream.Close())
		}
	}
	errs = append(errs, e.srv.Close())
	e.wg.Wait()
	return errors.Join(errs...)
}

const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"

func (e *Edge) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allow))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Server", e.cfg.UserAgent))
	e.send(tx, res)
}

func (e *Edge) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
	res.AppendHeader(sip.NewHeader("Allow", allow))
	e.send(tx, res)
}

// onCancel sees only CANCELs that match no INVITE transaction: the
// transaction layer answers the others (200, then 487 to the INVITE).
func (e *Edge) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	e.send(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
}

func (e *Edge) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		e.calls.HandleInvite(nil, req, tx) // re-INVITE inside a dialog
		return
	}
	// RFC 3261 section 17.2.1: 100 Trying at once stops the caller's retransmissions.
	e.send(tx, sip.NewResponseFromRequest(req, 100, "Trying", nil))
	if req.CallID() == nil || req.From() == nil || req.Recipient.User == "" {
		e.send(tx, sip.NewResponseFromRequest(req, 484, "Address Incomplete", nil))
		return
	}
	acct, ok := e.authenticate(req, tx, "Proxy-Authorization", 407)
	if !ok {
		return
	}
	e.calls.HandleInvite(acct, req, tx)
}

// authenticate checks the credentials in header and answers the request
// when they are missing or wrong. It reports whether the request may go on.
func (e *Edge) authenticate(req *sip.Request, tx sip.ServerTransaction, header string, challengeCode int) (*dialtone.Account, bool) {
	var creds string
	if h := req.GetHeader(header); h != nil {
		creds = h.Value()
	} else if h := req.GetHeader("Authorization"); h != nil {
		creds = h.Value() // some clients answer a 407 with Authorization
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var acct *dialtone.Account
	lookup := func(username string) (digest.Credentials, error) {
		a, err := e.accounts.AccountByUsername(ctx, username)
		if err != nil {
			return digest.Credentials{}, err
		}
		acct = a
		return digest.Credentials{HA1MD5: a.HA1MD5, HA1SHA256: a.HA1SHA256, Realm: a.Realm}, nil
	}
	_, err := e.auth.Verify(ctx, digest.Request{Method: string(req.Method), URI: req.Recipient, Source: req.Source()}, creds, lookup)
	switch {
	case err == nil:
	case errors.Is(err, digest.ErrMissing), errors.Is(err, digest.ErrStale):
		e.challenge(req, tx, challengeCode, errors.Is(err, digest.ErrStale))
		return nil, false
	case errors.Is(err, digest.ErrMalformed):
		e.send(tx, sip.NewResponseFromRequest(req, 400, "Bad Request: malformed credentials", nil))
		return nil, false
	case errors.Is(err, digest.ErrNoQOP), errors.Is(err, digest.ErrBadNonce), errors.Is(err, digest.ErrReplay):
		e.log.Info("authentication failed", "method", req.Method, "source", req.Source(), "error", err)
		e.challenge(req, tx, challengeCode, errors.Is(err, digest.ErrReplay))
		return nil, false
	default:
		e.log.Info("authentication failed", "method", req.Method, "source", req.Source(), "error", err)
		e.send(tx, sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return nil, false
	}
	if acct.Status != dialtone.AccountActive {
		e.send(tx, sip.NewResponseFromRequest(req, 403, "Forbidden: account disabled", nil))
		return nil, false
	}
	return acct, true
}

func (e *Edge) challenge(req *sip.Request, tx sip.ServerTransaction, code int, stale bool) {
	reason, header := "Unauthorized", "WWW-Authenticate"
	if code == 407 {
		reason, header = "Proxy Authentication Required", "Proxy-Authenticate"
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	var challenges []string
	if t := req.Transport(); len(e.cfg.WSAuthAlgorithms) > 0 && (strings.EqualFold(t, "ws") || strings.EqualFold(t, "wss")) {
		challenges = e.auth.ChallengeWith(req.Source(), stale, e.cfg.WSAuthAlgorithms)
	} else {
		challenges = e.auth.Challenge(req.Source(), stale)
	}
	for _, c := range challenges {
		res.AppendHeader(sip.NewHeader(header, c))
	}
	e.send(tx, res)
}

func (e *Edge) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	acct, ok := e.authenticate(req, tx, "Authorization", 401)
	if !ok {
		return
	}
	if to := req.To(); to == nil || !strings.EqualFold(to.Address.User, acct.Username) {
		e.send(tx, sip.NewResponseFromRequest(req, 403, "Forbidden: To does not match the authenticated user", nil))
		return
	}
	expires := e.cfg.MaxExpires
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := parseSeconds(h.Value()); err == nil {
			expires = n
		}
	}
	var contacts []Binding
	now := time.Now()
	for _, h := range req.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		if ch.Address.Wildcard {
			if expires != 0 {
				e.send(tx, sip.NewResponseFromRequest(req, 400, "Bad Request: wildcard Contact needs Expires: 0", nil))
				return
			}
			e.reg.Clear(acct.Username)
			continue
		}
		exp := expires
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := parseSeconds(v); err == nil {
				exp = n
			}
		}
		exp = min(exp, e.cfg.MaxExpires)
		contacts = append(contacts, Binding{Contact: ch.Address.String(), Source: req.Source(), Transport: req.Transport(), Expires: now.Add(time.Duration(exp) * time.Second)})
	}
	current := e.reg.Update(acct.Username, contacts, now)
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range current {
		res.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<%s>;expires=%d", b.Contact, int(b.Expires.Sub(now).Round(time.Second)/time.Second))))
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	e.send(tx, res)
}

func (e *Edge) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		e.log.Debug("response not sent", "code", res.StatusCode, "error", err)
	}
}

func parseSeconds(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	return n, nil
}
