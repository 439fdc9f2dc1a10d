package b2bua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialtone/dialtone"
)

// The fakes stand for what the package declares as its boundary: the legs,
// the clock, the router, the media, the credit and the CDR writer. None
// opens a socket or sleeps; a test waits on what they record, with a
// deadline only as a guard against a hang.

const guard = 5 * time.Second

// wait returns when ch is closed or fails the test at the guard.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// fakeClock moves only when the test advances it; due timers run in the
// advancing goroutine, in order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	if d <= 0 {
		t.done = true
		go f() // as time.AfterFunc does
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.c.timers = slices.DeleteFunc(t.c.timers, func(x *fakeTimer) bool { return x == t })
	return true
}

// Advance moves the clock by d, running every timer that falls due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			c.now = end
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		t.done = true
		c.now = t.at
		c.mu.Unlock()
		t.f()
	}
}

// pending counts the timers not yet due.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// fakeRouter sends every number to its trunks.
type fakeRouter struct {
	trunks []Trunk
	err    error
	block  chan struct{} // when set, Route waits for it or for ctx
	waits  chan struct{} // closed when Route starts waiting on block

	mu     sync.Mutex
	routed []string // "dialed from caller" per call
}

func (r *fakeRouter) Route(ctx context.Context, _ *dialtone.Account, dialed, caller string) (Destination, error) {
	r.mu.Lock()
	r.routed = append(r.routed, dialed+" from "+caller)
	r.mu.Unlock()
	if r.block != nil {
		close(r.waits)
		select {
		case <-r.block:
		case <-ctx.Done():
			return Destination{}, context.Cause(ctx)
		}
	}
	if r.err != nil {
		return Destination{}, r.err
	}
	return Destination{E164: "+" + strings.TrimPrefix(dialed, "+"), Type: "mobile", Country: "GB", Trunks: r.trunks}, nil
}

// fakeMedia refuses an offer of "G729" and makes fake bridges.
type fakeMedia struct {
	mu      sync.Mutex
	bridges []*fakeBridge
}

func (m *fakeMedia) Bridge(_ context.Context, _ string, offer []byte) (Bridge, error) {
	if string(offer) == "G729" {
		return nil, fmt.Errorf("offer: %w", dialtone.ErrNoCodec)
	}
	b := &fakeBridge{updating: make(chan struct{}), closed: make(chan struct{})}
	m.mu.Lock()
	m.bridges = append(m.bridges, b)
	m.mu.Unlock()
	return b, nil
}

func (m *fakeMedia) last() *fakeBridge {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bridges[len(m.bridges)-1]
}

// fakeBridge takes any carrier SDP but "G729"; UpdateApp blocks on hold
// when set.
type fakeBridge struct {
	mu       sync.Mutex
	onEnd    func(error)
	events   []string
	hold     chan struct{}
	updating chan struct{} // closed when UpdateApp starts
	closed   chan struct{}
}

func (b *fakeBridge) record(e string) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
}

func (b *fakeBridge) Events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

func (b *fakeBridge) CarrierOffer(codecs []string) ([]byte, error) {
	return []byte("carrier-offer"), nil
}

func (b *fakeBridge) SetCarrierAnswer(sdp []byte) error {
	if string(sdp) == "G729" {
		return fmt.Errorf("carrier answer: %w", dialtone.ErrNoCodec)
	}
	b.record("carrier-sdp:" + string(sdp))
	return nil
}

func (b *fakeBridge) AppAnswer() ([]byte, error) { return []byte("app-answer"), nil }
func (b *fakeBridge) AnswerEarly() bool          { return false }

func (b *fakeBridge) UpdateApp(offer []byte) error {
	close(b.updating)
	if b.hold != nil {
		<-b.hold
	}
	b.record("update-app")
	return nil
}

func (b *fakeBridge) Start(onEnd func(error)) {
	b.mu.Lock()
	b.onEnd = onEnd
	b.mu.Unlock()
	b.record("start")
}

func (b *fakeBridge) end(reason error) {
	b.mu.Lock()
	f := b.onEnd
	b.mu.Unlock()
	f(reason)
}

// timeout is the media engine's report of no RTP.
func (b *fakeBridge) timeout() { b.end(dialtone.ErrMediaTimeout) }

// closeNotify is the media engine's report that the browser closed DTLS.
func (b *fakeBridge) closeNotify() {
	b.end(fmt.Errorf("%w: dtls closed by peer", dialtone.ErrMediaClosed))
}

func (b *fakeBridge) Codecs() (string, string) { return "PCMA", "PCMA" }
func (b *fakeBridge) Stats() (int64, int64, int64, int64) {
	return 100, 0, 100, 0
}

func (b *fakeBridge) Close() error {
	b.record("close")
	close(b.closed)
	return nil
}

// fakeCDRs keeps the CDRs.
type fakeCDRs struct {
	mu      sync.Mutex
	cdrs    []dialtone.CDR
	written chan struct{} // closed at the first CDR
}

func newFakeCDRs() *fakeCDRs { return &fakeCDRs{written: make(chan struct{})} }

func (w *fakeCDRs) InsertCDR(_ context.Context, c *dialtone.CDR) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cdrs = append(w.cdrs, *c)
	if len(w.cdrs) == 1 {
		close(w.written)
	}
	return nil
}

func (w *fakeCDRs) all() []dialtone.CDR {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.cdrs)
}

// fakeCredit lets every call run for max, then has no more.
type fakeCredit struct {
	max      time.Duration
	refuse   error
	cdrs     *fakeCDRs
	mu       sync.Mutex
	extends  int
	takeOver func() // the last call's OnTakenOver function
}

func (k *fakeCredit) Authorize(_ context.Context, req CreditRequest) (CreditCall, error) {
	if k.refuse != nil {
		return nil, k.refuse
	}
	return &fakeCreditCall{k: k}, nil
}

type fakeCreditCall struct {
	k     *fakeCredit
	until time.Time
}

// OnTakenOver keeps f for the test to call as the store would (takeOver).
func (c *fakeCreditCall) OnTakenOver(f func()) {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	c.k.takeOver = f
}

func (c *fakeCreditCall) Answered(_ context.Context, at time.Time, _ *dialtone.CDR) (time.Time, error) {
	c.until = at.Add(c.k.max)
	return c.until, nil
}

func (c *fakeCreditCall) Extend(context.Context, time.Time) (time.Time, error) {
	c.k.mu.Lock()
	c.k.extends++
	c.k.mu.Unlock()
	return c.until, nil // the account has no more
}

func (c *fakeCreditCall) Finish(ctx context.Context, cdr *dialtone.CDR) error {
	cdr.Currency = "EUR"
	return c.k.cdrs.InsertCDR(ctx, cdr)
}

// fakeLimits admits up to max calls at once (or refuses every call with
// refuse) and counts the releases.
type fakeLimits struct {
	max    int
	refuse error

	mu             sync.Mutex
	live, released int
}

func (f *fakeLimits) Admit(_ context.Context, _ *dialtone.Account, _ Destination) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return nil, f.refuse
	}
	if f.live >= f.max {
		return nil, &dialtone.LimitError{Limit: dialtone.LimitConcurrent, Detail: fmt.Sprintf("%d calls at once", f.max)}
	}
	f.live++
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.live--
			f.released++
		})
	}, nil
}

func (f *fakeLimits) counts() (live, released int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live, f.released
}

// fakeTx is a server transaction that records its responses.
type fakeTx struct {
	mu        sync.Mutex
	responses []*sip.Response
	done      chan struct{}
	err       error
}

func newFakeTx() *fakeTx { return &fakeTx{done: make(chan struct{})} }

func (tx *fakeTx) Respond(res *sip.Response) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.responses = append(tx.responses, res)
	return nil
}

func (tx *fakeTx) codes() []int {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	var out []int
	for _, r := range tx.responses {
		out = append(out, r.StatusCode)
	}
	return out
}

func (tx *fakeTx) Terminate()                         {}
func (tx *fakeTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (tx *fakeTx) Done() <-chan struct{}              { return tx.done }
func (tx *fakeTx) Err() error                         { return tx.err }
func (tx *fakeTx) Acks() <-chan *sip.Request          { return nil }
func (tx *fakeTx) OnCancel(sip.FnTxCancel) bool       { return true }

// fakeLegs hands out the app legs the test made and records every
// carrier INVITE.
type fakeLegs struct {
	mu       sync.Mutex
	apps     map[string]*fakeApp // by Call-ID
	carriers []*fakeCarrier
	invited  chan *fakeCarrier
	refuse   map[string]error // trunk host -> transport error
}

func newFakeLegs() *fakeLegs {
	return &fakeLegs{apps: map[string]*fakeApp{}, invited: make(chan *fakeCarrier, 16), refuse: map[string]error{}}
}

func (l *fakeLegs) Accept(req *sip.Request, tx sip.ServerTransaction) (appLeg, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.apps[req.CallID().Value()]
	if a == nil {
		return nil, errors.New("no such app")
	}
	req.To().Params.Add("tag", "switch-tag") // as sipgo's ReadInvite does
	return a, nil
}

func (l *fakeLegs) Invite(ctx context.Context, inv *sip.Request) (carrierLeg, error) {
	if err := l.refuse[inv.Recipient.Host]; err != nil {
		return nil, err
	}
	c := &fakeCarrier{inv: inv, responses: make(chan *sip.Response, 8), waiting: make(chan struct{}), ended: make(chan struct{})}
	l.mu.Lock()
	l.carriers = append(l.carriers, c)
	l.mu.Unlock()
	l.invited <- c
	return c, nil
}

// next is the next carrier INVITE sent.
func (l *fakeLegs) next(t *testing.T) *fakeCarrier {
	t.Helper()
	select {
	case c := <-l.invited:
		return c
	case <-time.After(guard):
		t.Fatal("timed out waiting for a carrier INVITE")
		return nil
	}
}

// fakeApp is the app's leg: a CANCEL ends its context.
type fakeApp struct {
	inv    *sip.Request
	ctx    context.Context
	cancel context.CancelFunc
	// cancelAtAnswer: the app's CANCEL crosses our 200, which the
	// transaction layer then refuses to send.
	cancelAtAnswer bool

	mu       sync.Mutex
	events   []string      // "180", "183", "200", "487" ..., "BYE", "close"
	changed  chan struct{} // closed and replaced at each event
	rejected *sip.Response // the final non-2xx sent, if any
}

func (a *fakeApp) record(e string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	if a.changed != nil {
		close(a.changed)
	}
	a.changed = make(chan struct{})
}

// saw waits until the app has seen e.
func (a *fakeApp) saw(t *testing.T, e string) {
	t.Helper()
	deadline := time.After(guard)
	for {
		a.mu.Lock()
		if slices.Contains(a.events, e) {
			a.mu.Unlock()
			return
		}
		if a.changed == nil {
			a.changed = make(chan struct{})
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("app never saw %s; saw %q", e, a.Events())
		}
	}
}

// Events is what the app saw, without the dialog's close.
func (a *fakeApp) Events() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(a.events), func(e string) bool { return e == "close" })
}

// CANCEL: the transaction layer answers 487 and ends the dialog's context.
func (a *fakeApp) CANCEL() {
	a.record("487")
	a.cancel()
}

func (a *fakeApp) Invite() *sip.Request     { return a.inv }
func (a *fakeApp) Context() context.Context { return a.ctx }

func (a *fakeApp) Provisional(res *sip.Response) error {
	if a.ctx.Err() != nil {
		return errors.New("transaction terminated")
	}
	a.record(fmt.Sprint(res.StatusCode))
	return nil
}

func (a *fakeApp) Answer(res *sip.Response) error {
	if a.cancelAtAnswer {
		a.CANCEL()
	}
	if a.ctx.Err() != nil {
		return fmt.Errorf("transaction terminated: %w", sip.ErrTransactionCanceled)
	}
	a.record(fmt.Sprint(res.StatusCode))
	return nil
}

func (a *fakeApp) Reject(res *sip.Response) error {
	if a.ctx.Err() != nil {
		return errors.New("transaction terminated")
	}
	a.mu.Lock()
	a.rejected = res
	a.mu.Unlock()
	a.record(fmt.Sprint(res.StatusCode))
	return nil
}

func (a *fakeApp) Bye(context.Context, *sip.Request) error { a.record("BYE"); return nil }
func (a *fakeApp) Close() error                            { a.record("close"); return nil }

func (a *fakeApp) ReadAck(*sip.Request, sip.ServerTransaction) error { return nil }

func (a *fakeApp) ReadBye(req *sip.Request, tx sip.ServerTransaction) error {
	return tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// fakeCarrier is one carrier INVITE; the test sends its responses.
type fakeCarrier struct {
	inv       *sip.Request
	responses chan *sip.Response
	// afterCancel is the final response to our CANCEL: nil is 487; a 200
	// is the answer crossing the CANCEL.
	afterCancel int
	// ackHold, when set, holds our ACK to the 200 until it is closed;
	// acking is closed as the ACK starts.
	ackHold, acking chan struct{}

	mu      sync.Mutex
	events  []string // "CANCEL", "ACK", "BYE", "silent"
	waiting chan struct{}
	ended   chan struct{} // closed when WaitAnswer returns
	once    sync.Once
}

func (c *fakeCarrier) record(e string) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

func (c *fakeCarrier) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// respond sends a response with an optional SDP body.
func (c *fakeCarrier) respond(code int, reason, body string) {
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	res := sip.NewResponseFromRequest(c.inv, code, reason, b)
	if code >= 200 && code < 300 {
		res.To().Params.Add("tag", "carrier-tag")
	}
	c.responses <- res
}

func (c *fakeCarrier) WaitAnswer(ctx context.Context, _, _ string, onResponse func(*sip.Response)) (*sip.Response, error) {
	defer close(c.ended)
	c.once.Do(func() { close(c.waiting) })
	for {
		select {
		case res := <-c.responses:
			onResponse(res)
			if res.StatusCode >= 200 {
				return res, nil
			}
		case <-ctx.Done():
			if context.Cause(ctx) == errCarrierSilent {
				c.record("silent")
				return nil, ctx.Err()
			}
			c.record("CANCEL")
			if c.afterCancel >= 200 && c.afterCancel < 300 {
				res := sip.NewResponseFromRequest(c.inv, c.afterCancel, "OK", []byte("carrier-answer"))
				return res, ctx.Err()
			}
			return nil, ctx.Err()
		}
	}
}

func (c *fakeCarrier) Ack(context.Context) error {
	if c.ackHold != nil {
		close(c.acking)
		<-c.ackHold
	}
	c.record("ACK")
	return nil
}
func (c *fakeCarrier) Bye(context.Context) error { c.record("BYE"); return nil }

func (c *fakeCarrier) ReadBye(req *sip.Request, tx sip.ServerTransaction) error {
	return tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// syncBuffer is a log sink for many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// harness is a Server on fakes.
type harness struct {
	t      *testing.T
	s      *Server
	clock  *fakeClock
	legs   *fakeLegs
	router *fakeRouter
	media  *fakeMedia
	cdrs   *fakeCDRs
	credit *fakeCredit
	logs   *syncBuffer
	n      int
}

func newHarness(t *testing.T, credit *fakeCredit, trunks ...Trunk) *harness {
	h := &harness{
		t: t, clock: newFakeClock(), legs: newFakeLegs(), router: &fakeRouter{trunks: trunks},
		media: &fakeMedia{}, cdrs: newFakeCDRs(), logs: &syncBuffer{},
	}
	var k Credit
	if credit != nil {
		credit.cdrs = h.cdrs
		h.credit, k = credit, credit
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.s = newServer(Config{Host: "switch.test", Ports: map[string]int{"udp": 5060}, UserAgent: "dialtone",
		RingTimeout: 60 * time.Second, Clock: h.clock}, h.legs, h.router, h.media, h.cdrs, k, NewMetrics(prometheus.NewRegistry()), log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("switch log:\n%s", h.logs.String())
		}
	})
	return h
}

func trunk(name string) Trunk {
	return Trunk{Name: name, Host: name + ".test", Port: 5060, Transport: "udp", Codecs: []string{"PCMA"}}
}

// testCall is one app call on the harness.
type testCall struct {
	h    *harness
	app  *fakeApp
	tx   *fakeTx
	c    *call
	done chan struct{} // closed when the call's setup has returned
}

// dial makes the app's INVITE to number and runs the call as
// HandleInvite does.
func (h *harness) dial(number, offer string) *testCall {
	h.n++
	callID := fmt.Sprintf("app-call-%d", h.n)
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: number, Host: "switch.test"})
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "app.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", "app-tag")
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: number, Host: "switch.test"}, Params: sip.NewParams()}
	cid := sip.CallIDHeader(callID)
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "198.51.100.7", Port: 5062}}
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(&contact)
	req.SetBody([]byte(offer))
	ctx, cancel := context.WithCancel(context.Background())
	app := &fakeApp{inv: req, ctx: ctx, cancel: cancel}
	h.legs.mu.Lock()
	h.legs.apps[callID] = app
	h.legs.mu.Unlock()

	tc := &testCall{h: h, app: app, tx: newFakeTx(), done: make(chan struct{})}
	acct := &dialtone.Account{ID: 7, Username: "alice"}
	h.s.tasks.add() // HandleInvite, split so the test holds the call
	tc.c = h.s.accept(acct, req, tc.tx)
	if tc.c == nil {
		h.t.Fatal("call not accepted")
	}
	go func() {
		defer close(tc.done)
		defer h.s.tasks.done()
		tc.c.run()
	}()
	return tc
}

// setupDone waits for the call's setup to return.
func (tc *testCall) setupDone() { tc.h.t.Helper(); wait(tc.h.t, tc.done, "the call's setup to return") }

// ended waits for the call to reach the ended state.
func (tc *testCall) ended() {
	tc.h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if _, err := tc.c.reached(ctx, stateEnded); err != nil {
		tc.h.t.Fatalf("call not ended: state %s", tc.c.current())
	}
}

// reach waits for the call to be in state s or past it.
func (tc *testCall) reach(s callState) {
	tc.h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if got, err := tc.c.reached(ctx, s); err != nil {
		tc.h.t.Fatalf("call in state %s, want %s", got, s)
	}
}

// bye is an in-dialog BYE from the app or the carrier, through the Server.
func (tc *testCall) bye(fromCarrier bool) *fakeTx {
	tx := newFakeTx()
	tc.h.s.HandleBye(tc.inDialog(sip.BYE, fromCarrier), tx)
	return tx
}

// inDialog is a request inside the app's or the carrier's dialog.
func (tc *testCall) inDialog(method sip.RequestMethod, fromCarrier bool) *sip.Request {
	var callID, fromTag, toTag string
	inv := tc.app.inv
	if fromCarrier {
		tc.c.do(func() { callID, toTag = tc.c.carrierCallID, tc.c.carrierFromTag })
		fromTag = "carrier-tag"
	} else {
		callID = inv.CallID().Value()
		fromTag, _ = inv.From().Params.Get("tag")
		toTag, _ = inv.To().Params.Get("tag")
	}
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: "dialtone", Host: "switch.test"})
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "x", Host: "peer.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", fromTag)
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "y", Host: "switch.test"}, Params: sip.NewParams()}
	to.Params.Add("tag", toTag)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 2, MethodName: method})
	return req
}

// cdr is the one CDR written.
func (h *harness) cdr() dialtone.CDR {
	h.t.Helper()
	wait(h.t, h.cdrs.written, "a CDR")
	cdrs := h.cdrs.all()
	if len(cdrs) != 1 {
		h.t.Fatalf("%d CDRs, want 1: %+v", len(cdrs), cdrs)
	}
	return cdrs[0]
}

// checkCDR asserts the fields every test names.
func checkCDR(t *testing.T, c dialtone.CDR, disp dialtone.Disposition, code int, by dialtone.Party, billed int64) {
	t.Helper()
	if c.Disposition != disp || c.SIPCode != code || c.HangupBy != by || c.BilledSeconds != billed {
		t.Errorf("CDR = %s %d %q hangup_by %q billed %d s; want %s %d hangup_by %q billed %d s",
			c.Disposition, c.SIPCode, c.SIPReason, c.HangupBy, c.BilledSeconds, disp, code, by, billed)
	}
}

func checkEvents(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s saw %q, want %q", who, got, want)
	}
}

// noTasks closes the Server and asserts that no goroutine or timer of
// it is left.
func (h *harness) noTasks() {
	h.t.Helper()
	closed := make(chan struct{})
	go func() { _ = h.s.Close(); close(closed) }()
	wait(h.t, closed, "Close")
	if n := h.s.tasks.count(); n != 0 {
		h.t.Errorf("%d goroutines or timers of the Server still running", n)
	}
	if n := h.s.ActiveCalls(); n != 0 {
		h.t.Errorf("%d calls still active", n)
	}
}
