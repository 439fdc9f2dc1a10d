// Package b2bua is the call controller: one call is an app leg (the user's
// INVITE, answered by us as a UAS) and a carrier leg (our own INVITE to a
// trunk, sent as a UAC), joined by a media bridge.
//
// It owns the call's life: routing, the account's limits (a call keeps its
// place in them until it ends), media setup, relaying of provisional and
// final responses, BYE from either side, CANCEL before answer, the media
// timeout, and the CDR written when the call ends. It knows nothing of
// SQL, RTP or number plans: the Router, Limits, Media and CDRWriter it
// needs are declared here and built elsewhere.
//
// A call's life is an explicit state (state.go): routing, authorizing,
// media, dialing, early, connected, ending, ended, moved only by named
// transitions checked against the state they start from, under the call's
// one lock. A transition asked for in the wrong state (the app hung up as
// the carrier answered, the switch stopped mid-dial) changes nothing and
// is returned and logged, so exactly one party ends each call.
//
// Concurrency: sipgo hands each SIP message to its own goroutine. A call's
// setup runs in the goroutine of its INVITE; BYE and timeouts may arrive on
// any goroutine and race for the transition to ending, which only one
// wins. Calls are found by Call-ID in a map guarded by Server.mu; no I/O is
// done under that lock. Every goroutine and timer the Server starts is
// counted and waited for by HangupAll and Close. Timers run on a Clock
// (Config.Clock), and the legs are behind small interfaces (legs.go), so
// the state machine is unit-tested with fake legs and a fake clock.
//
// Topology hiding: the carrier INVITE is built from scratch (new Call-ID,
// tags, Via, Contact, our User-Agent, our SDP); nothing of the app's
// request is copied to it.
package b2bua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/dialtone/dialtone"
)

// Trunk is a carrier the call may be sent to.
type Trunk struct {
	Name      string
	Host      string
	Port      int
	Transport string // "udp", "tcp" or "tls"
	Codecs    []string
	// User is the Request-URI user sent to this carrier: the number after
	// its rewriting rules. Empty: the E.164 digits.
	User string
	// Username and Password answer the carrier's 401/407 challenges.
	Username, Password string
	// InviteTimeout: a carrier that sends no response at all within it is
	// skipped for the next one (0: wait for the transaction to time out).
	InviteTimeout time.Duration
	// Caller-ID policy, as the Router decided it: From user (empty: an
	// anonymous From and no P-Asserted-Identity), a P-Asserted-Identity
	// with it, and Privacy: id. Nothing of the app's From reaches a carrier.
	CallerID string
	PAI      bool
	Privacy  bool
	Headers  map[string]string // extra headers on the INVITE
	// Acquire takes one of the carrier's channels and a slot of its calls
	// per second; an error (down, full, over its rate) skips the carrier.
	// nil: no limits.
	Acquire func() (release func(), err error)
}

// Destination is where a dialed number goes.
type Destination struct {
	E164    string // "+..."
	Type    string // mobile, fixed, ...
	Country string // ISO 3166 region of the number
	Trunks  []Trunk
}

// Router turns what the user dialed into an E.164 number and the trunks to try,
// in order, each with the caller ID to present. caller is the user part of
// the app's From. It fails with dialtone.ErrInvalidNumber, ErrNoRoute,
// ErrBlocked (a destination the switch does not call) or ErrCallerID (a
// caller the account may not present).
type Router interface {
	Route(ctx context.Context, acct *dialtone.Account, dialed, caller string) (Destination, error)
}

// Media builds the bridge between the two legs of a call from the app's SDP offer.
// It fails with dialtone.ErrNoCodec when the offer has nothing we can carry.
type Media interface {
	Bridge(ctx context.Context, callID string, appOffer []byte) (Bridge, error)
}

// Bridge is the media of one call.
type Bridge interface {
	// CarrierOffer is the SDP for the INVITE to a carrier offering codecs, in order.
	CarrierOffer(codecs []string) ([]byte, error)
	// SetCarrierAnswer applies the carrier's SDP (from 183 or 200).
	SetCarrierAnswer(sdp []byte) error
	// AppAnswer is the SDP answer for the app (in 183 and 200).
	AppAnswer() ([]byte, error)
	// AnswerEarly reports whether the app's answer may go in a 180 that
	// carries no SDP of the carrier's, so that the app's media path (ICE
	// and DTLS for WebRTC) is up by the time the carrier answers.
	AnswerEarly() bool
	// UpdateApp applies a new offer from the app (re-INVITE): a new media
	// address, or hold.
	UpdateApp(offer []byte) error
	// Start arms the media timeout. onEnd is called at most once, when the
	// media ends on its own: no RTP (dialtone.ErrMediaTimeout), the app
	// closing its media as it hangs up (dialtone.ErrMediaClosed: a
	// browser's DTLS close_notify, its BYE right behind), or the app's
	// ICE or DTLS failing.
	Start(onEnd func(reason error))
	// Codecs names the codec of each leg, e.g. "PCMU".
	Codecs() (app, carrier string)
	// Stats returns packets received and estimated lost on each leg.
	Stats() (appPackets, appLost, carrierPackets, carrierLost int64)
	Close() error
}

// Credit authorizes calls before they are dialed (the first increment is
// paid for by then) and meters them while they run (package billing). It
// fails with dialtone.ErrInsufficientFunds, dialtone.ErrNoRate or
// dialtone.ErrNoPlan to refuse a call. A nil CreditCall means the call is
// not billed, which the configuration allows on purpose only.
type Credit interface {
	Authorize(ctx context.Context, req CreditRequest) (CreditCall, error)
}

// CreditRequest is a call to authorize.
type CreditRequest struct {
	CallID      string // the CDR's ID
	Account     *dialtone.Account
	Destination Destination
	CDR         dialtone.CDR // the record so far
}

// CreditCall is the money side of one authorized call.
type CreditCall interface {
	// Answered reserves the first credit interval and returns when the call
	// must end unless Extend pushes that further.
	Answered(ctx context.Context, at time.Time, cdr *dialtone.CDR) (until time.Time, err error)
	// Extend reserves more credit; an until that does not move means the
	// account has no more.
	Extend(ctx context.Context, now time.Time) (until time.Time, err error)
	// Finish prices the call, fills the CDR's money fields, charges the
	// account and writes the CDR.
	Finish(ctx context.Context, cdr *dialtone.CDR) error
	// OnTakenOver registers f, called once if another switch node takes
	// the call over (this node was taken for dead and that node settles
	// the call): the call must end at once. f must not block.
	OnTakenOver(f func())
}

// Limits admits a routed call by its account's limits (package
// switch/limits) before its credit is authorized. A refusal is a
// *dialtone.LimitError; release is called once the call has ended,
// however it ended.
type Limits interface {
	Admit(ctx context.Context, acct *dialtone.Account, dest Destination) (release func(), err error)
}

// CDRWriter stores the record of a finished call.
type CDRWriter interface {
	InsertCDR(ctx context.Context, c *dialtone.CDR) error
}

// Config is what the call controller needs to know about its own addresses.
type Config struct {
	// Host is the address written into Contact and From toward peers.
	Host string
	// Ports maps a transport ("udp", "tcp") to our listening port.
	Ports map[string]int
	// UserAgent is sent to carriers in place of the app's.
	UserAgent string
	// RingTimeout bounds how long a carrier may take to answer.
	RingTimeout time.Duration
	// CreditLead is how long before its credit runs out a call asks for more.
	CreditLead time.Duration
	// ByeGrace is how long a call whose app closed its media waits for
	// the app's BYE before the switch hangs up (0: one second).
	ByeGrace time.Duration
	// Clock sets the call's timers (nil: SystemClock).
	Clock Clock
	// Limits admits each call before it is authorized (nil: no limits).
	Limits Limits
}

// Server is the call controller.
type Server struct {
	cfg     Config
	legs    legs
	router  Router
	media   Media
	cdrs    CDRWriter
	credit  Credit
	metrics *Metrics
	log     *slog.Logger
	clock   Clock

	draining atomic.Bool
	tasks    tasks // goroutines and timers in flight: Close waits for them

	mu    sync.Mutex
	calls map[string]*call // by the Call-ID of either leg
	live  map[*call]struct{}
	idle  chan struct{} // closed and replaced when live becomes empty
}

// New returns a call controller sending its requests through client.
// A nil credit bills nothing.
func New(cfg Config, client *sipgo.Client, router Router, media Media, cdrs CDRWriter, credit Credit, m *Metrics, log *slog.Logger) *Server {
	return newServer(cfg, sipgoLegs{ua: sipgo.DialogUA{Client: client, ContactHDR: contact(cfg, "udp")}}, router, media, cdrs, credit, m, log)
}

// newServer is New with the legs made by l: the unit tests' fakes.
func newServer(cfg Config, l legs, router Router, media Media, cdrs CDRWriter, credit Credit, m *Metrics, log *slog.Logger) *Server {
	if cfg.CreditLead <= 0 {
		cfg.CreditLead = 5 * time.Second
	}
	if cfg.ByeGrace <= 0 {
		cfg.ByeGrace = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	return &Server{
		cfg:     cfg,
		legs:    l,
		router:  router,
		media:   media,
		cdrs:    cdrs,
		credit:  credit,
		metrics: m,
		log:     log,
		clock:   cfg.Clock,
		calls:   map[string]*call{},
		live:    map[*call]struct{}{},
	}
}

func contact(cfg Config, transport string) sip.ContactHeader {
	uri := sip.Uri{Scheme: "sip", User: "dialtone", Host: cfg.Host, Port: cfg.Ports[transport]}
	if transport != "udp" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", transport)
	}
	return sip.ContactHeader{Address: uri}
}

// Draining reports whether the switch has stopped taking new calls.
func (s *Server) Draining() bool { return s.draining.Load() }

// ActiveCalls counts calls being set up or connected.
func (s *Server) ActiveCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// HandleInvite runs a new call from an authenticated account to completion
// of its setup. The edge has already sent 100 Trying. It blocks until the
// call is answered or has failed.
func (s *Server) HandleInvite(acct *dialtone.Account, req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.handleReinvite(req, tx)
		return
	}
	s.tasks.add()
	defer s.tasks.done()
	if c := s.accept(acct, req, tx); c != nil {
		c.run()
	}
}

// accept reads the app's INVITE into a new call, tracked by its Call-ID,
// or answers it and returns nil.
func (s *Server) accept(acct *dialtone.Account, req *sip.Request, tx sip.ServerTransaction) *call {
	callID := req.CallID().Value() // the edge checked it is there
	s.mu.Lock()
	_, taken := s.calls[callID]
	if !taken {
		s.calls[callID] = nil // reserved until the call is tracked
	}
	s.mu.Unlock()
	if taken {
		// A second dialog on a Call-ID in use: a loop or a forgery.
		respond(tx, req, 482, "Loop Detected")
		return nil
	}
	app, err := s.legs.Accept(req, tx)
	if err != nil {
		s.mu.Lock()
		delete(s.calls, callID)
		s.mu.Unlock()
		if errors.Is(err, sip.ErrTransactionCanceled) || errors.Is(tx.Err(), sip.ErrTransactionCanceled) {
			// Cancelled before we read it: still one CDR per attempt.
			s.recordUnread(acct, req, outcome{dialtone.Cancelled, 487, "Request Terminated"})
			return nil
		}
		s.log.Info("invite refused", "error", err)
		respond(tx, req, 400, "Bad Request")
		return nil
	}
	return s.newCall(acct, req, app)
}

// run sets the call up, unless the switch is draining. It returns when
// the call is connected or has ended.
func (c *call) run() {
	if c.s.draining.Load() {
		_ = c.refuse(outcome{dialtone.Failed, 503, "Service Unavailable: shutting down"}, nil, dialtone.PartyNone)
		return
	}
	if err := c.setup(); err != nil {
		c.log.Debug("call setup ended", "error", err, "state", c.current().String())
	}
}

func (s *Server) lookup(req *sip.Request) *call {
	id := req.CallID()
	if id == nil {
		return nil
	}
	s.mu.Lock()
	c := s.calls[id.Value()]
	s.mu.Unlock()
	if c == nil || !c.matches(req) {
		return nil
	}
	return c
}

func (s *Server) track(c *call, callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[callID] = c
	if _, ok := s.live[c]; !ok {
		s.live[c] = struct{}{}
		s.metrics.active.Inc()
	}
}

// retrack moves a call from the Call-ID of a previous carrier attempt to the next one.
func (s *Server) retrack(c *call, previous, next string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if previous != "" {
		delete(s.calls, previous)
	}
	s.calls[next] = c
}

func (s *Server) untrack(c *call) {
	var carrierCallID string
	c.do(func() { carrierCallID = c.carrierCallID })
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.calls, c.cdr.AppCallID)
	if carrierCallID != "" {
		delete(s.calls, carrierCallID)
	}
	if _, ok := s.live[c]; ok {
		delete(s.live, c)
		s.metrics.active.Dec()
	}
	if len(s.live) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// Drain stops taking new calls (they get 503) and waits until the active
// ones have ended or ctx is done. It returns the number still active.
func (s *Server) Drain(ctx context.Context) int {
	s.draining.Store(true)
	for {
		s.mu.Lock()
		n := len(s.live)
		if n == 0 {
			s.mu.Unlock()
			return 0
		}
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle := s.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return n
		}
	}
}

// HangupAll ends every call with BYE on both legs (503 to the app before
// answer) and waits for them to end and for every goroutine and timer of
// the Server to return. Nothing it waits for is unbounded: a call's setup
// is cancelled, and its BYEs and CDR write are bounded by timeouts on the
// clock (a carrier that sent nothing at all is waited for until its
// INVITE transaction times out, RFC 3261 section 9.1).
func (s *Server) HangupAll() {
	s.draining.Store(true)
	s.mu.Lock()
	calls := make([]*call, 0, len(s.live))
	for c := range s.live {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		s.goTask(c.abort)
	}
	s.tasks.wait()
}

// Close ends all calls and waits for every goroutine the Server started.
func (s *Server) Close() error {
	s.HangupAll()
	return nil
}

// recordUnread writes the CDR of an attempt that ended before it became a call.
func (s *Server) recordUnread(acct *dialtone.Account, req *sip.Request, o outcome) {
	now := s.clock.Now()
	cdr := dialtone.CDR{
		ID: uuid.NewString(), AppCallID: req.CallID().Value(), AccountID: acct.ID, Account: acct.Username,
		DialedRaw: dialed(req), SetupAt: now, EndAt: now,
		Disposition: o.disposition, SIPCode: o.code, SIPReason: o.reason, HangupBy: dialtone.PartyCaller,
	}
	if from := req.From(); from != nil {
		cdr.Caller = from.Address.User
	}
	s.metrics.attempts.Inc()
	ctx, cancel := s.withTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.cdrs.InsertCDR(ctx, &cdr); err != nil {
		s.log.Error("cdr not written", "error", err, "cdr_id", cdr.ID)
	}
	s.metrics.observe(&cdr)
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}

func transportOf(req *sip.Request) string {
	switch req.Transport() {
	case "TCP", "tcp":
		return "tcp"
	case "TLS", "tls":
		return "tls"
	case "WS", "ws":
		return "ws"
	case "WSS", "wss":
		return "wss"
	}
	return "udp"
}

func hostPort(t Trunk) string {
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

var (
	errRingTimeout = errors.New("carrier did not answer in time")
	errAppBye      = errors.New("app sent BYE before the answer")
)

// errShutdown is the cause of a call's context when the switch ends it.
var errShutdown = fmt.Errorf("switch is shutting down: %w", dialtone.ErrUnavailable)
