// Package edge is the switch's SIP front door: it serves the listeners it
// is given (UDP, TCP, TLS, WebSocket ws and wss), answers OPTIONS, runs the
// registrar, authenticates every INVITE and REGISTER with digest auth (RFC
// 3261 section 22, RFC 8760) against devices' credentials or app
// credentials (Credentials), and hands authenticated calls to the call
// controller. It owns its part of the sip section of the configuration
// file (Settings: listeners, TLS files, digest auth, registrar limits).
// Every listener and every authentication goes through one Guard, which
// refuses banned and flooding sources and counts failures. TCP, TLS and
// WebSocket connections that say nothing, or nothing more while no
// registration or call holds them, are closed (conns.go). Behind a
// trusted SIP front proxy (Kamailio), the client a request really came
// from is the one the front names (source.go): every per-source rule
// takes it from there.
//
// An unknown username and a wrong password are answered alike (the same
// 403, after the same hash work) so that the answers do not tell which
// users exist.
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
	"net/netip"
	"slices"
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

// Guard refuses abusive sources and counts authentication failures
// (package guard implements it). transport is lower case: udp, tcp, tls,
// ws, wss.
type Guard interface {
	// PacketConn and Listener wrap the sockets so that refused sources
	// are dropped before sipgo parses anything.
	PacketConn(pc net.PacketConn, transport string) net.PacketConn
	Listener(l net.Listener, transport string) net.Listener
	// Admit takes one request off src's rate; the UDP socket already did.
	Admit(src netip.Addr, transport string) bool
	AuthFailed(src netip.Addr, username, transport string)
	StaleNonce(src netip.Addr, transport string)
	// UserAllowed is false while username is under attack and its
	// attempts are over their rate.
	UserAllowed(username string) bool
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
	// HandshakeTimeout and IdleTimeout close the TCP, TLS and WebSocket
	// connections nobody uses (see conns); DefaultSettings' when zero.
	HandshakeTimeout time.Duration
	IdleTimeout      time.Duration
	// CallHold is how long a call can last, ringing included: a stream
	// connection a call came over is kept that long after its INVITE.
	// Zero keeps it until its peer closes it.
	CallHold time.Duration
	// TrustedProxies are the front proxies (a Kamailio dispatcher) whose
	// SourceHeader names the real client (see source.go); none by default.
	TrustedProxies []netip.Prefix
}

// Listener is one bound socket the edge serves SIP on.
type Listener struct {
	Transport string         // udp, tcp, tls, ws or wss
	Packet    net.PacketConn // for udp
	Stream    net.Listener   // for tcp and ws; for tls and wss wrapped by tls.NewListener
}

// Edge is the SIP front door.
type Edge struct {
	cfg     Config
	srv     *sipgo.Server
	auth    *digest.Server
	creds   *Credentials
	calls   Calls
	reg     *Registrar
	guard   Guard
	conns   *conns
	log     *slog.Logger
	watch   *challengeWatch // challenges that wait for their answer
	sources sources         // who really sent a request

	mu        sync.Mutex
	listeners []Listener
	wg        sync.WaitGroup
}

// New registers the edge's handlers on srv.
func New(cfg Config, srv *sipgo.Server, auth *digest.Server, creds *Credentials, calls Calls, reg *Registrar, g Guard, log *slog.Logger) *Edge {
	d := DefaultSettings()
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = d.HandshakeTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = d.TCPIdleTimeout
	}
	e := &Edge{cfg: cfg, srv: srv, auth: auth, creds: creds, calls: calls, reg: reg, guard: g, log: log,
		conns: newConns(cfg.HandshakeTimeout, cfg.IdleTimeout, cfg.CallHold, nil, log),
		watch: newChallengeWatch(challengeWait, challengeLimit, log), sources: sources{trusted: slices.Clone(cfg.TrustedProxies)}}
	inDialog := func(h sipgo.RequestHandler) handler {
		return func(req *sip.Request, tx sip.ServerTransaction, _ Source) { h(req, tx) }
	}
	srv.OnInvite(e.admit(e.onInvite))
	srv.OnAck(e.admit(inDialog(calls.HandleAck)))
	srv.OnBye(e.admit(inDialog(calls.HandleBye)))
	srv.OnCancel(e.admit(e.onCancel))
	srv.OnRegister(e.admit(e.onRegister))
	srv.OnOptions(e.admit(e.onOptions))
	srv.OnNoRoute(e.admit(e.onNoRoute))
	return e
}

// handler serves a request whose real source admit has decided.
type handler func(req *sip.Request, tx sip.ServerTransaction, src Source)

// admit decides who really sent a request (source.go) and refuses it
// when that source is over its rate or banned: with 503 on the stream
// transports and from a trusted front proxy, while on UDP the guarded
// socket dropped a direct sender's datagrams before parsing. A request
// over a stream connection keeps the connection from being closed as
// idle.
func (e *Edge) admit(h handler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		t := transport(req)
		if t != "udp" {
			e.conns.heard(t, req.Source())
		}
		src, err := e.sources.of(req)
		if err != nil {
			e.log.Warn("request refused", "method", req.Method, "source", req.Source(), "error", err)
			if !req.IsAck() {
				e.send(tx, sip.NewResponseFromRequest(req, 400, "Bad Request: "+SourceHeader, nil))
			}
			return
		}
		if (t != "udp" || src.Front) && !e.guard.Admit(src.IP(), src.Transport) {
			if !req.IsAck() {
				e.send(tx, sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
			}
			return
		}
		h(req, tx, src)
	}
}

// Serve serves SIP on each listener, through the guard, until Close.
// Stream connections that say nothing are closed (see conns).
func (e *Edge) Serve(ls []Listener) {
	ls = slices.Clone(ls)
	for i, l := range ls {
		if l.Packet != nil {
			ls[i].Packet = e.guard.PacketConn(l.Packet, l.Transport)
		}
		if l.Stream != nil {
			ls[i].Stream = e.conns.listener(e.guard.Listener(l.Stream, l.Transport), l.Transport)
		}
	}
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

// Connections is how many TCP, TLS and WebSocket connections are open.
func (e *Edge) Connections() int { return e.conns.count() }

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
	e.watch.Close()
	return errors.Join(errs...)
}

const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"

func (e *Edge) onOptions(req *sip.Request, tx sip.ServerTransaction, _ Source) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allow))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Server", e.cfg.UserAgent))
	e.send(tx, res)
}

func (e *Edge) onNoRoute(req *sip.Request, tx sip.ServerTransaction, _ Source) {
	if req.IsAck() {
		return
	}
	res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
	res.AppendHeader(sip.NewHeader("Allow", allow))
	e.send(tx, res)
}

// onCancel sees only CANCELs that match no INVITE transaction: the
// transaction layer answers the others (200, then 487 to the INVITE).
func (e *Edge) onCancel(req *sip.Request, tx sip.ServerTransaction, _ Source) {
	e.send(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
}

func (e *Edge) onInvite(req *sip.Request, tx sip.ServerTransaction, src Source) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		e.calls.HandleInvite(nil, req, tx) // re-INVITE inside a dialog
		return
	}
	// RFC 3261 section 17.2.1: 100 Trying at once stops the caller's retransmissions.
	e.send(tx, sip.NewResponseFromRequest(req, 100, "Trying", nil))
	if req.CallID() == nil || req.From() == nil || !dialsNumber(req.Recipient) {
		e.send(tx, sip.NewResponseFromRequest(req, 484, "Address Incomplete", nil))
		return
	}
	login, ok := e.authenticate(req, tx, src, "Proxy-Authorization", 407)
	if !ok {
		return
	}
	if t := transport(req); t != "udp" {
		e.conns.called(t, req.Source()) // the call's BYE goes back over it
	}
	e.calls.HandleInvite(login.Account, req, tx)
}

// dialsNumber reports whether a Request-URI names what to call: the user of
// a SIP URI, or a tel: URI (RFC 3966), which the call controller reads.
func dialsNumber(u sip.Uri) bool {
	return u.User != "" || u.Scheme == "tel" && u.Raw() != ""
}

// authenticate checks the credentials in header and answers the request
// when they are missing or wrong. It reports whether the request may go on.
func (e *Edge) authenticate(req *sip.Request, tx sip.ServerTransaction, src Source, header string, challengeCode int) (*Login, bool) {
	var creds string
	if h := req.GetHeader(header); h != nil {
		creds = h.Value()
	} else if h := req.GetHeader("Authorization"); h != nil {
		creds = h.Value() // some clients answer a 407 with Authorization
	}
	if creds != "" {
		if id := req.CallID(); id != nil {
			e.watch.answered(id.Value())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ip, tp := src.IP(), src.Transport
	var login *Login
	var username string
	throttled := false
	lookup := func(name string) (digest.Credentials, error) {
		username = name
		if !e.guard.UserAllowed(name) {
			throttled = true
			return digest.Credentials{}, errUserThrottled
		}
		l, err := e.creds.Lookup(ctx, name)
		if err != nil {
			return digest.Credentials{}, err
		}
		login = l
		return l.Digest, nil
	}
	_, err := e.auth.Verify(ctx, digest.Request{Method: string(req.Method), URI: req.Recipient, Source: src.String()}, creds, lookup)
	switch {
	case err == nil:
	case throttled: // refused unchecked: no failure of the source's
		e.log.Info("authentication refused", "method", req.Method, "source", src.String(), "error", err)
		e.send(tx, sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return nil, false
	case errors.Is(err, digest.ErrUnavailable):
		// The store failed (a timeout under load): the switch's fault, so
		// no failure of the client's, who may try again.
		e.log.Warn("authentication not checked", "method", req.Method, "source", src.String(), "error", err)
		res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		e.send(tx, res)
		return nil, false
	case errors.Is(err, digest.ErrMissing): // every client's first request: not a failure
		e.challenge(req, tx, src, challengeCode, false)
		return nil, false
	case errors.Is(err, digest.ErrStale):
		e.guard.StaleNonce(ip, tp)
		e.challenge(req, tx, src, challengeCode, true)
		return nil, false
	case errors.Is(err, digest.ErrMalformed):
		e.guard.AuthFailed(ip, username, tp)
		e.send(tx, sip.NewResponseFromRequest(req, 400, "Bad Request: malformed credentials", nil))
		return nil, false
	case errors.Is(err, digest.ErrNoQOP), errors.Is(err, digest.ErrBadNonce), errors.Is(err, digest.ErrReplay):
		e.guard.AuthFailed(ip, username, tp)
		e.log.Info("authentication failed", "method", req.Method, "source", src.String(), "error", err)
		e.challenge(req, tx, src, challengeCode, errors.Is(err, digest.ErrReplay))
		return nil, false
	default:
		e.guard.AuthFailed(ip, username, tp)
		e.log.Info("authentication failed", "method", req.Method, "source", src.String(), "error", err)
		e.send(tx, sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return nil, false
	}
	if login.Expired {
		// Right password, past its expiry: the app must fetch new ones.
		e.send(tx, sip.NewResponseFromRequest(req, 403, "Forbidden: credentials expired", nil))
		return nil, false
	}
	if login.Account.Status != dialtone.AccountActive {
		e.send(tx, sip.NewResponseFromRequest(req, 403, "Forbidden: account disabled", nil))
		return nil, false
	}
	if err := e.creds.Seen(ctx, login, src.IP()); err != nil {
		e.log.Warn("device last seen not recorded", "account", login.Account.Username, "error", err)
	}
	return login, true
}

func (e *Edge) challenge(req *sip.Request, tx sip.ServerTransaction, src Source, code int, stale bool) {
	reason, header := "Unauthorized", "WWW-Authenticate"
	if code == 407 {
		reason, header = "Proxy Authentication Required", "Proxy-Authenticate"
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	var challenges []string
	if t := src.Transport; len(e.cfg.WSAuthAlgorithms) > 0 && (t == "ws" || t == "wss") {
		challenges = e.auth.ChallengeWith(src.String(), stale, e.cfg.WSAuthAlgorithms)
	} else {
		challenges = e.auth.Challenge(src.String(), stale)
	}
	for _, c := range challenges {
		res.AppendHeader(sip.NewHeader(header, c))
	}
	if id := req.CallID(); id != nil {
		sent := challengeSent{callID: id.Value(), method: string(req.Method), source: src.String(), transport: src.Transport, offered: offeredAlgorithms(challenges)}
		if ua := req.GetHeader("User-Agent"); ua != nil {
			sent.userAgent = ua.Value()
		}
		e.watch.sent(sent, time.Now())
	}
	e.send(tx, res)
}

func (e *Edge) onRegister(req *sip.Request, tx sip.ServerTransaction, src Source) {
	login, ok := e.authenticate(req, tx, src, "Authorization", 401)
	if !ok {
		return
	}
	acct := login.Account
	// The address of record is the account's, or the digest username
	// itself, which is what a phone set up with a device's puts in To.
	if to := req.To(); to == nil || !strings.EqualFold(to.Address.User, acct.Username) && !strings.EqualFold(to.Address.User, login.Username) {
		e.send(tx, sip.NewResponseFromRequest(req, 403, "Forbidden: To does not match the authenticated user", nil))
		return
	}
	expires := e.cfg.MaxExpires
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := parseSeconds(h.Value()); err == nil {
			expires = n
		}
	}
	// RFC 3327: the front proxies that want the device reached through
	// them add Path. Only a trusted front's count: a client's own Path
	// would point our requests wherever it likes.
	var path []string
	if src.Front {
		for _, h := range req.GetHeaders("Path") {
			path = append(path, h.Value())
		}
		if len(path) > maxPath {
			e.send(tx, sip.NewResponseFromRequest(req, 400, "Bad Request: too many Path headers", nil))
			return
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
		contacts = append(contacts, Binding{Contact: ch.Address.String(), Source: req.Source(), Transport: req.Transport(), Expires: now.Add(time.Duration(exp) * time.Second), Path: path})
	}
	current := e.reg.Update(acct.Username, contacts, now)
	if t := transport(req); t != "udp" {
		var until time.Time // the end of what this connection registered
		for _, b := range current {
			if b.Source == req.Source() && strings.EqualFold(b.Transport, t) && b.Expires.After(until) {
				until = b.Expires
			}
		}
		e.conns.registeredUntil(t, req.Source(), until)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range current {
		res.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<%s>;expires=%d", b.Contact, int(b.Expires.Sub(now).Round(time.Second)/time.Second))))
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	if len(path) > 0 && supports(req, "path") { // RFC 3327 section 5.3: echoed to a UA that knows Path
		for _, v := range path {
			res.AppendHeader(sip.NewHeader("Path", v))
		}
	}
	e.send(tx, res)
}

func (e *Edge) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		e.log.Debug("response not sent", "code", res.StatusCode, "error", err)
	}
}

// maxPath bounds the Path headers of a REGISTER: one or two a front.
const maxPath = 8

// supports reports whether req's Supported headers name option.
func supports(req *sip.Request, option string) bool {
	for _, h := range req.GetHeaders("Supported") {
		for _, o := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(o), option) {
				return true
			}
		}
	}
	return false
}

// errUserThrottled refuses an attempt on a username under attack.
var errUserThrottled = errors.New("username under attack: attempt refused unchecked")

// transport is the request's transport in lower case, as the listeners
// and the guard name it.
func transport(req *sip.Request) string {
	return strings.ToLower(req.Transport())
}

func parseSeconds(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	return n, nil
}
