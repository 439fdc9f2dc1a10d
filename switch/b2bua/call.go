package b2bua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/dialtone/dialtone"
)

// call is one app-to-carrier call.
type call struct {
	s    *Server
	acct *dialtone.Account
	req  *sip.Request // the app's INVITE
	log  *slog.Logger

	// ctx ends the call's setup: cancelled by abort (shutdown) and by the
	// app's CANCEL through the app dialog's context.
	ctx    context.Context
	cancel context.CancelCauseFunc

	app *sipgo.DialogServerSession // set before the call is tracked, then constant
	tx  sip.ServerTransaction      // the app's INVITE transaction

	mu             sync.Mutex
	bridge         Bridge // set once media is ready; then constant
	carrierCallID  string // of the attempt in progress
	carrierFromTag string // our tag on the carrier leg
	carrierOffer   []byte // the SDP we sent the carrier
	trunkTransport string
	finalSent      bool                       // the app has its final response
	carrier        *sipgo.DialogClientSession // the attempt in progress or answered
	answered       bool
	ended          bool
	credit         CreditCall // nil when the call is not billed
	attempts       []string   // "trunk=answer" per carrier tried or skipped
	release        func()     // gives back the answering carrier's channel
	cdr            dialtone.CDR
	once           sync.Once
}

// setup routes the call, dials carriers in order and connects the legs.
// It returns when the call is connected or has ended.
func (c *call) setup() error {
	// The app's CANCEL ends the app dialog's context.
	stop := context.AfterFunc(c.app.Context(), func() { c.cancel(context.Canceled) })
	defer stop()

	dest, err := c.s.router.Route(c.ctx, c.acct, c.req.Recipient.User)
	if err != nil {
		c.fail(errorOutcome(err), err)
		return fmt.Errorf("route: %w", err)
	}
	c.cdr.DialedE164 = dest.E164
	c.log = c.log.With("to", dest.E164)

	if c.s.credit != nil {
		c.mu.Lock()
		snapshot := c.cdr
		c.mu.Unlock()
		k, err := c.s.credit.Authorize(c.ctx, CreditRequest{CallID: c.cdr.ID, Account: c.acct, Destination: dest, CDR: snapshot})
		if err != nil && c.ctx.Err() != nil { // the app cancelled (or the switch stops) meanwhile
			c.setHangup(dialtone.PartyCaller)
			c.fail(outcome{dialtone.Cancelled, 487, "Request Terminated"}, nil)
			return fmt.Errorf("authorize: %w", context.Cause(c.ctx))
		}
		if err != nil {
			c.fail(errorOutcome(err), err)
			return fmt.Errorf("authorize: %w", err)
		}
		c.mu.Lock()
		c.credit = k
		c.mu.Unlock()
	}

	bridge, err := c.s.media.Bridge(c.ctx, c.cdr.ID, c.req.Body())
	if err != nil {
		c.fail(errorOutcome(err), err)
		return fmt.Errorf("media: %w", err)
	}
	c.mu.Lock()
	c.bridge = bridge
	c.mu.Unlock()

	last := outcome{dialtone.Failed, 503, "Service Unavailable"}
	for i, trunk := range dest.Trunks {
		release := func() {}
		if trunk.Acquire != nil {
			r, err := trunk.Acquire()
			if err != nil {
				c.attempt(trunk.Name, "skipped:"+err.Error())
				c.log.Info("carrier skipped", "trunk", trunk.Name, "reason", err)
				continue
			}
			release = r
		}
		o, failover, err := c.dial(trunk, dest.E164)
		if err == nil {
			c.mu.Lock()
			c.release = release
			c.mu.Unlock()
			return nil // connected; hangup finishes the call
		}
		release()
		last = o
		c.log.Info("carrier attempt failed", "trunk", trunk.Name, "attempt", i+1, "code", o.code, "error", err)
		if !failover || c.ctx.Err() != nil {
			break
		}
	}
	if cause := context.Cause(c.ctx); cause != nil {
		switch {
		case errors.Is(cause, errShutdown):
			last = outcome{dialtone.Failed, 503, "Service Unavailable: shutting down"}
		case errors.Is(cause, errAppBye):
			last = outcome{dialtone.Cancelled, 487, "Request Terminated"}
			c.setHangup(dialtone.PartyCaller)
		default:
			// The app's CANCEL: the transaction layer has already answered 487.
			c.setHangup(dialtone.PartyCaller)
			c.end(outcome{dialtone.Cancelled, 487, "Request Terminated"})
			return nil
		}
	}
	c.fail(last, nil)
	return nil
}

// dial sends the INVITE to one trunk and waits for its answer. It returns
// nil once the call is connected on both legs.
func (c *call) dial(trunk Trunk, e164 string) (outcome, bool, error) {
	offer, err := c.bridge.CarrierOffer(trunk.Codecs)
	if err != nil {
		return errorOutcome(err), true, fmt.Errorf("carrier offer: %w", err)
	}
	callID := uuid.NewString()
	c.mu.Lock()
	previous := c.carrierCallID
	c.carrierCallID = callID
	c.cdr.CarrierCallID = callID
	c.cdr.Trunk = trunk.Name
	c.carrier = nil
	c.mu.Unlock()
	c.s.retrack(c, previous, callID)
	m := c.s.metrics
	m.trunkAttempts.WithLabelValues(trunk.Name).Inc()

	c.mu.Lock()
	c.carrierOffer, c.trunkTransport = offer, trunk.Transport
	c.mu.Unlock()
	inv := c.carrierInvite(trunk, e164, callID, offer)
	ctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	ring := time.AfterFunc(c.s.cfg.RingTimeout, func() { cancel(errRingTimeout) })
	defer ring.Stop()
	var responded, silent atomic.Bool
	if trunk.InviteTimeout > 0 {
		t := time.AfterFunc(trunk.InviteTimeout, func() {
			if !responded.Load() {
				silent.Store(true)
				cancel(sipgo.WaitAnswerForceCancelErr) // nothing to CANCEL before a response (RFC 3261 9.1)
			}
		})
		defer t.Stop()
	}

	cs, err := c.s.ua.WriteInvite(ctx, inv)
	if err != nil {
		m.trunkFailures.WithLabelValues(trunk.Name, "transport").Inc()
		c.attempt(trunk.Name, "transport")
		return outcome{dialtone.Failed, 503, "Service Unavailable"}, true, fmt.Errorf("invite %s: %w", trunk.Name, err)
	}
	c.mu.Lock()
	c.carrier = cs
	c.mu.Unlock()

	err = cs.WaitAnswer(ctx, sipgo.AnswerOptions{
		Username: trunk.Username, Password: trunk.Password,
		OnResponse: func(res *sip.Response) error {
			responded.Store(true)
			return c.relayProvisional(res)
		},
	})
	if err != nil {
		if res := cs.InviteResponse; res != nil && res.IsSuccess() {
			// The carrier answered as we cancelled (the 200 crossed our
			// CANCEL): confirm and end its leg so it is not left up.
			c.endCrossedAnswer(cs, trunk)
		}
		var dr *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &dr):
			o, failover := carrierOutcome(dr.Res.StatusCode, dr.Res.Reason)
			m.trunkFailures.WithLabelValues(trunk.Name, fmt.Sprint(dr.Res.StatusCode)).Inc()
			c.attempt(trunk.Name, strconv.Itoa(dr.Res.StatusCode))
			return o, failover, fmt.Errorf("carrier %s answered %d %s", trunk.Name, dr.Res.StatusCode, dr.Res.Reason)
		case silent.Load() && c.ctx.Err() == nil:
			m.trunkFailures.WithLabelValues(trunk.Name, "no_response").Inc()
			c.attempt(trunk.Name, "no-response")
			return outcome{dialtone.Failed, 408, "Request Timeout"}, true, fmt.Errorf("carrier %s: no response within %v", trunk.Name, trunk.InviteTimeout)
		case errors.Is(context.Cause(ctx), errRingTimeout):
			m.trunkFailures.WithLabelValues(trunk.Name, "ring_timeout").Inc()
			c.attempt(trunk.Name, "ring-timeout")
			return outcome{dialtone.NoAnswer, 480, "Temporarily Unavailable: no answer"}, false, errRingTimeout
		case c.ctx.Err() != nil:
			c.attempt(trunk.Name, "cancelled")
			return outcome{dialtone.Cancelled, 487, "Request Terminated"}, false, context.Cause(c.ctx)
		default:
			m.trunkFailures.WithLabelValues(trunk.Name, "timeout").Inc()
			c.attempt(trunk.Name, "timeout")
			return outcome{dialtone.Failed, 408, "Request Timeout"}, true, fmt.Errorf("carrier %s: %w", trunk.Name, err)
		}
	}
	return c.connect(cs, trunk)
}

func (c *call) endCrossedAnswer(cs *sipgo.DialogClientSession, trunk Trunk) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
	defer cancel()
	if id, err := sip.DialogIDFromResponse(cs.InviteResponse); err == nil {
		cs.ID = id
	}
	if err := cs.Ack(ctx); err != nil {
		c.log.Debug("ack to crossed answer failed", "trunk", trunk.Name, "error", err)
	}
	if err := cs.Bye(ctx); err != nil {
		c.log.Debug("bye to crossed answer failed", "trunk", trunk.Name, "error", err)
	}
}

// connect finishes an answered call: ACK to the carrier, 200 to the app.
func (c *call) connect(cs *sipgo.DialogClientSession, trunk Trunk) (outcome, bool, error) {
	now := c.s.now()
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 5*time.Second)
	defer cancel()
	if err := cs.Ack(ackCtx); err != nil {
		c.log.Warn("ack to carrier failed", "trunk", trunk.Name, "error", err)
	}
	code := strconv.Itoa(cs.InviteResponse.StatusCode)
	if err := c.bridge.SetCarrierAnswer(cs.InviteResponse.Body()); err != nil {
		c.attempt(trunk.Name, code+":unusable-sdp")
		c.byeCarrier()
		return outcome{dialtone.Failed, 488, "Not Acceptable Here: carrier media unusable"}, true, fmt.Errorf("carrier answer sdp: %w", err)
	}
	answer, err := c.bridge.AppAnswer()
	if err != nil {
		c.attempt(trunk.Name, code+":unusable-sdp")
		c.byeCarrier()
		return errorOutcome(err), false, fmt.Errorf("app answer sdp: %w", err)
	}
	c.attempt(trunk.Name, code)

	c.mu.Lock()
	c.answered = true
	c.cdr.AnswerAt = now
	if c.cdr.RingingAt.IsZero() {
		c.cdr.RingingAt = now
	}
	snapshot, credit := c.cdr, c.credit
	c.mu.Unlock()
	c.s.metrics.trunkAnswered.WithLabelValues(trunk.Name).Inc()
	c.bridge.Start(c.mediaTimeout)
	if credit != nil {
		until, err := credit.Answered(c.ctx, now, &snapshot)
		if err != nil {
			c.log.Warn("credit not reserved: the call ends at once", "error", err)
		}
		c.s.wg.Add(1)
		go c.meter(credit, until)
	}

	res := sip.NewSDPResponseFromRequest(c.app.InviteRequest, answer)
	h := contact(c.s.cfg, transportOf(c.req))
	res.AppendHeader(&h)
	// WriteResponse retransmits the 200 until the app's ACK (RFC 3261 13.3.1.4).
	if err := c.app.WriteResponse(res); err != nil {
		c.log.Info("app did not take the answer", "error", err)
		c.hangup(dialtone.PartySwitch)
		return outcome{}, false, nil
	}
	c.log.Info("call connected", "trunk", trunk.Name)
	return outcome{}, false, nil
}

// attempt records what one carrier answered, for the CDR.
func (c *call) attempt(trunk, answer string) {
	c.mu.Lock()
	c.attempts = append(c.attempts, trunk+"="+answer)
	c.mu.Unlock()
}

// relayProvisional passes 180 and 183 to the app, with early media.
func (c *call) relayProvisional(res *sip.Response) error {
	if !res.IsProvisional() || res.StatusCode == 100 {
		return nil
	}
	c.mu.Lock()
	if c.cdr.RingingAt.IsZero() {
		c.cdr.RingingAt = c.s.now()
	}
	c.mu.Unlock()
	var body []byte
	early := len(res.Body()) > 0 && c.bridge.SetCarrierAnswer(res.Body()) == nil
	if early || c.bridge.AnswerEarly() {
		if b, err := c.bridge.AppAnswer(); err == nil {
			body = b
		}
	}
	code, reason := res.StatusCode, res.Reason
	if code != 180 && code != 183 {
		code, reason = 183, "Session Progress"
	}
	if early && code == 180 {
		// The carrier's media is early media: the app plays it, not a ringback of its own.
		code, reason = 183, "Session Progress"
	}
	r := sip.NewResponseFromRequest(c.app.InviteRequest, code, reason, body)
	if body != nil {
		r.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	h := contact(c.s.cfg, transportOf(c.req))
	r.AppendHeader(&h)
	if err := c.app.WriteResponse(r); err != nil {
		c.log.Debug("relay provisional failed", "code", code, "error", err)
	}
	return nil
}

func (c *call) carrierInvite(trunk Trunk, e164, callID string, offer []byte) *sip.Request {
	user := trunk.User
	if user == "" {
		user = strings.TrimPrefix(e164, "+")
	}
	uri := sip.Uri{Scheme: "sip", User: user, Host: trunk.Host, Port: trunk.Port}
	req := sip.NewRequest(sip.INVITE, uri)
	req.SetTransport(strings.ToUpper(trunk.Transport))
	req.SetDestination(hostPort(trunk))

	caller := trunk.CallerID
	if caller == "" {
		caller = callerID(c.acct, c.cdr.Caller)
	}
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: caller, Host: c.s.cfg.Host}, Params: sip.NewParams()}
	if trunk.Privacy {
		// RFC 3323: the carrier may see who calls (PAI) but must not pass it on.
		from.Address = sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}
		from.DisplayName = "Anonymous"
	}
	tag := sip.GenerateTagN(16)
	from.Params.Add("tag", tag)
	c.mu.Lock()
	c.carrierFromTag = tag
	c.mu.Unlock()
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: trunk.Host}, Params: sip.NewParams()}
	cid := sip.CallIDHeader(callID)
	h := contact(c.s.cfg, trunk.Transport)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&h)
	req.AppendHeader(sip.NewHeader("User-Agent", c.s.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	if trunk.PAI || trunk.Privacy {
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", fmt.Sprintf("<sip:%s@%s>", caller, c.s.cfg.Host))) // RFC 3325
	}
	if trunk.Privacy {
		req.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
	for _, name := range sortedKeys(trunk.Headers) {
		req.AppendHeader(sip.NewHeader(name, trunk.Headers[name]))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	return req
}

// matches reports whether an in-dialog request belongs to this call: the
// Call-ID alone is not enough (RFC 3261 section 12.2.2), or anyone who learns
// it could hang up the call.
func (c *call) matches(req *sip.Request) bool {
	from, to := req.From(), req.To()
	if from == nil || to == nil {
		return false
	}
	fromTag, _ := from.Params.Get("tag")
	toTag, hasTo := to.Params.Get("tag")
	c.mu.Lock()
	carrierCallID, carrierTag := c.carrierCallID, c.carrierFromTag
	c.mu.Unlock()
	if req.CallID().Value() == carrierCallID {
		return hasTo && toTag == carrierTag
	}
	appFrom, _ := c.app.InviteRequest.From().Params.Get("tag")
	ourTag, _ := c.app.InviteRequest.To().Params.Get("tag")
	return fromTag == appFrom && (!hasTo || toTag == ourTag)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// callerID is what the carrier sees as the calling party: what the app
// presented when it is a number, otherwise the account name.
func callerID(acct *dialtone.Account, presented string) string {
	p := strings.TrimPrefix(presented, "+")
	if p != "" && len(p) <= 15 && strings.Trim(p, "0123456789") == "" {
		return presented
	}
	return acct.Username
}

func (c *call) mediaTimeout() {
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		c.log.Info("media timeout: no RTP")
		c.s.metrics.mediaTimeouts.Inc()
		c.hangup(dialtone.PartySwitch)
	}()
}

// abort ends the call from the switch's side: BYE on both legs if it is
// up; otherwise 503 to the app now (the setup's carrier INVITE is
// cancelled as its context ends) so shutdown never waits on a carrier.
func (c *call) abort() {
	c.cancel(errShutdown)
	c.mu.Lock()
	answered := c.answered
	c.mu.Unlock()
	if answered {
		c.hangup(dialtone.PartySwitch)
		return
	}
	c.mu.Lock()
	done := c.finalSent || c.ended
	c.mu.Unlock()
	if done {
		return // its final response is out; the call is ending on its own
	}
	c.setHangup(dialtone.PartySwitch)
	c.fail(outcome{dialtone.Failed, 503, "Service Unavailable: shutting down"}, nil)
}

func (c *call) setHangup(p dialtone.Party) {
	c.mu.Lock()
	if c.cdr.HangupBy == dialtone.PartyNone {
		c.cdr.HangupBy = p
	}
	c.mu.Unlock()
}

// hangup ends a connected call: BYE to whichever leg did not end it.
func (c *call) hangup(by dialtone.Party) {
	c.once.Do(func() {
		c.setHangup(by)
		c.mu.Lock()
		c.cdr.EndAt = c.s.now()
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		if by != dialtone.PartyCallee {
			wg.Add(1)
			go func() { defer wg.Done(); c.byeCarrierCtx(ctx) }()
		}
		if by != dialtone.PartyCaller {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.app.WriteBye(ctx, c.appBye()); err != nil {
					c.log.Debug("bye to app failed", "error", err)
				}
			}()
		}
		wg.Wait()
		c.finish(outcome{dialtone.Answered, 200, "OK"})
	})
}

// appBye is the BYE for the app: to its Contact, sent where its INVITE
// came from. An app behind NAT, and every browser, cannot be reached at its
// Contact (a WebSocket client's is a made-up *.invalid host, RFC 7118
// section 5.2): the BYE goes back over the connection or through the
// NAT binding the INVITE used.
func (c *call) appBye() *sip.Request {
	inv := c.app.InviteRequest
	to := inv.From().Address // an INVITE without Contact is answered 400 before this; but never panic
	if h := inv.Contact(); h != nil {
		to = h.Address
	}
	bye := sip.NewRequest(sip.BYE, to)
	bye.SetTransport(inv.Transport())
	if src := inv.Source(); src != "" {
		bye.SetDestination(src)
	}
	return bye
}

func (c *call) byeCarrier() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
	defer cancel()
	c.byeCarrierCtx(ctx)
}

func (c *call) byeCarrierCtx(ctx context.Context) {
	c.mu.Lock()
	cs := c.carrier
	c.mu.Unlock()
	if cs == nil {
		return
	}
	if err := cs.Bye(ctx); err != nil {
		c.log.Debug("bye to carrier failed", "error", err)
	}
}

// fail answers the app with o and ends the call attempt. The response goes
// through the server transaction, which retransmits it and absorbs the ACK
// (RFC 3261 section 17.2.1), so nothing waits for an app that never ACKs.
// Only the first final response is sent.
func (c *call) fail(o outcome, err error) {
	if err != nil {
		c.log.Info("call refused", "code", o.code, "reason", o.reason, "error", err)
	}
	c.mu.Lock()
	send := !c.finalSent
	c.finalSent = true
	c.mu.Unlock()
	if send {
		res := sip.NewResponseFromRequest(c.app.InviteRequest, o.code, o.reason, nil)
		if o.code == 488 && err != nil {
			// RFC 3261 section 20.43: say what was wrong with the offer.
			res.AppendHeader(sip.NewHeader("Warning", fmt.Sprintf("305 %s %q", c.s.cfg.Host, strings.ReplaceAll(err.Error(), `"`, "'"))))
		}
		if err := c.tx.Respond(res); err != nil {
			c.log.Debug("final response not sent", "code", o.code, "error", err)
		}
	}
	c.end(o)
}

// end finishes a call that was never connected.
func (c *call) end(o outcome) {
	c.once.Do(func() {
		c.mu.Lock()
		c.cdr.EndAt = c.s.now()
		c.mu.Unlock()
		c.finish(o)
	})
}

// finish writes the CDR and forgets the call. It runs once per call.
func (c *call) finish(o outcome) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	cdr := c.cdr
	cdr.Attempts = strings.Join(c.attempts, ";")
	bridge, release := c.bridge, c.release
	c.release = nil
	c.mu.Unlock()
	if release != nil {
		release()
	}

	cdr.Disposition, cdr.SIPCode, cdr.SIPReason = o.disposition, o.code, o.reason
	if !cdr.AnswerAt.IsZero() {
		cdr.Disposition, cdr.SIPCode, cdr.SIPReason = dialtone.Answered, 200, "OK"
		cdr.Duration = cdr.EndAt.Sub(cdr.AnswerAt)
		cdr.BilledSeconds = int64((cdr.Duration + time.Second - 1) / time.Second)
	}
	if bridge != nil {
		cdr.AppCodec, cdr.CarrierCodec = bridge.Codecs()
		cdr.AppPackets, cdr.AppLost, cdr.CarrierPackets, cdr.CarrierLost = bridge.Stats()
		if err := bridge.Close(); err != nil {
			c.log.Debug("close media", "error", err)
		}
	}
	c.cancel(context.Canceled)
	_ = c.app.Close()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
	defer cancel()
	c.mu.Lock()
	credit := c.credit
	c.mu.Unlock()
	if credit != nil {
		// The charge and the CDR are one transaction. If the store fails,
		// the session stays open and the next start settles it.
		if err := credit.Finish(ctx, &cdr); err != nil {
			c.log.Error("call not settled: it will be at the next start", "error", err, "cdr_id", cdr.ID)
		}
	} else if err := c.s.cdrs.InsertCDR(ctx, &cdr); err != nil {
		c.log.Error("cdr not written", "error", err, "cdr_id", cdr.ID)
	}
	c.s.metrics.observe(&cdr)
	c.s.untrack(c)
	c.log.Info("call ended", "disposition", cdr.Disposition, "code", cdr.SIPCode,
		"hangup_by", cdr.HangupBy, "billed_seconds", cdr.BilledSeconds, "price", cdr.Price)
}

// meter keeps an answered call paid for: shortly before its credit runs out
// it reserves more; when there is no more, it hangs up at the last paid
// second. It returns when the call ends.
func (c *call) meter(credit CreditCall, until time.Time) {
	defer c.s.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := until.Sub(c.s.now()) - c.s.cfg.CreditLead
		timer.Reset(max(wait, 0))
		select {
		case <-c.ctx.Done():
			return
		case <-timer.C:
		}
		next, err := credit.Extend(c.ctx, c.s.now())
		if err != nil && c.ctx.Err() == nil {
			c.log.Warn("credit not extended", "error", err)
		}
		if next.After(until) {
			until = next
			continue
		}
		timer.Reset(max(until.Sub(c.s.now()), 0))
		select {
		case <-c.ctx.Done():
			return
		case <-timer.C:
		}
		c.log.Info("credit exhausted: hanging up")
		c.s.metrics.creditCutoffs.Inc()
		c.s.wg.Add(1)
		go func() {
			defer c.s.wg.Done()
			c.hangup(dialtone.PartySwitch)
		}()
		return
	}
}
