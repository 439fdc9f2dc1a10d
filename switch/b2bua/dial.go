package b2bua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/dialtone/dialtone"
)

// dialResult is what one carrier attempt leaves the call with.
type dialResult int

const (
	// dialNextCarrier: this carrier failed (no response, 408, 5xx, unusable
	// answer); the next one may be tried.
	dialNextCarrier dialResult = iota
	// dialFinal: the far end's answer (busy, 404, 603, no answer) or the
	// call's end (CANCEL, shutdown) ends the call with this outcome.
	dialFinal
	// dialConnected: both legs answered; hangup ends the call from here.
	dialConnected
)

func (r dialResult) String() string {
	switch r {
	case dialNextCarrier:
		return "next-carrier"
	case dialFinal:
		return "final"
	case dialConnected:
		return "connected"
	}
	return fmt.Sprintf("dialResult(%d)", int(r))
}

// dial sends the INVITE to one trunk and waits for its answer. release
// gives back the trunk's channel; the call keeps it when connected.
func (c *call) dial(trunk Trunk, e164 string, release func()) (dialResult, outcome, error) {
	var bridge Bridge
	c.do(func() { bridge = c.bridge })
	offer, err := bridge.CarrierOffer(trunk.Codecs)
	if err != nil {
		return dialNextCarrier, errorOutcome(err), fmt.Errorf("carrier offer: %w", err)
	}
	callID, tag := uuid.NewString(), sip.GenerateTagN(16)
	var previous string
	c.do(func() {
		previous = c.carrierCallID
		c.carrierCallID, c.carrierFromTag = callID, tag
		c.cdr.CarrierCallID = callID
		c.cdr.Trunk = trunk.Name
		c.carrier = nil
		c.carrierOffer, c.trunkTransport = offer, trunk.Transport
	})
	c.s.retrack(c, previous, callID)
	m := c.s.metrics
	m.trunkAttempts.WithLabelValues(trunk.Name).Inc()

	inv := c.carrierInvite(trunk, e164, callID, tag, offer)
	ctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	stopRing := c.s.after(c.s.cfg.RingTimeout, func() { cancel(errRingTimeout) })
	defer stopRing()
	var responded, silent atomic.Bool
	if trunk.InviteTimeout > 0 {
		stop := c.s.after(trunk.InviteTimeout, func() {
			if !responded.Load() {
				silent.Store(true)
				cancel(errCarrierSilent) // nothing to CANCEL before a response (RFC 3261 9.1)
			}
		})
		defer stop()
	}

	leg, err := c.s.legs.Invite(ctx, inv)
	if err != nil {
		m.trunkFailures.WithLabelValues(trunk.Name, "transport").Inc()
		c.attempt(trunk.Name, "transport")
		return dialNextCarrier, outcome{dialtone.Failed, 503, "Service Unavailable"}, fmt.Errorf("invite %s: %w", trunk.Name, err)
	}
	c.do(func() { c.carrier = leg })

	res, err := leg.WaitAnswer(ctx, trunk.Username, trunk.Password, func(res *sip.Response) {
		responded.Store(true)
		c.relayProvisional(res)
	})
	switch {
	case err == nil && res.IsSuccess():
		return c.connect(leg, res, trunk, release)
	case err == nil:
		o, failover := carrierOutcome(res.StatusCode, res.Reason)
		m.trunkFailures.WithLabelValues(trunk.Name, fmt.Sprint(res.StatusCode)).Inc()
		c.attempt(trunk.Name, strconv.Itoa(res.StatusCode))
		r := dialFinal
		if failover {
			r = dialNextCarrier
		}
		return r, o, fmt.Errorf("carrier %s answered %d %s", trunk.Name, res.StatusCode, res.Reason)
	}
	crossed := ""
	if res != nil && res.IsSuccess() {
		// The carrier answered as we cancelled (the 200 crossed our
		// CANCEL): confirm and end its leg so it is not left up, and
		// say so in its attempt. The call was not answered.
		c.endCrossedAnswer(leg, trunk)
		crossed = strconv.Itoa(res.StatusCode) + ":"
	}
	switch {
	case silent.Load() && c.ctx.Err() == nil:
		m.trunkFailures.WithLabelValues(trunk.Name, "no_response").Inc()
		c.attempt(trunk.Name, "no-response")
		return dialNextCarrier, outcome{dialtone.Failed, 408, "Request Timeout"}, fmt.Errorf("carrier %s: no response within %v", trunk.Name, trunk.InviteTimeout)
	case errors.Is(context.Cause(ctx), errRingTimeout):
		m.trunkFailures.WithLabelValues(trunk.Name, "ring_timeout").Inc()
		c.attempt(trunk.Name, crossed+"ring-timeout")
		return dialFinal, outcome{dialtone.NoAnswer, 480, "Temporarily Unavailable: no answer"}, errRingTimeout
	case c.ctx.Err() != nil:
		c.attempt(trunk.Name, crossed+"cancelled")
		return dialFinal, outcome{dialtone.Cancelled, 487, "Request Terminated"}, context.Cause(c.ctx)
	default:
		m.trunkFailures.WithLabelValues(trunk.Name, "timeout").Inc()
		c.attempt(trunk.Name, crossed+"timeout")
		return dialNextCarrier, outcome{dialtone.Failed, 408, "Request Timeout"}, fmt.Errorf("carrier %s: %w", trunk.Name, err)
	}
}

// endCrossedAnswer ACKs and ends a carrier leg that answered as we cancelled it.
func (c *call) endCrossedAnswer(leg carrierLeg, trunk Trunk) {
	ctx, cancel := c.s.withTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if err := leg.Ack(ctx); err != nil {
		c.log.Debug("ack to crossed answer failed", "trunk", trunk.Name, "error", err)
	}
	if err := leg.Bye(ctx); err != nil {
		c.log.Debug("bye to crossed answer failed", "trunk", trunk.Name, "error", err)
	}
}

// relayProvisional passes 180 and 183 to the app, with early media.
func (c *call) relayProvisional(res *sip.Response) {
	if !res.IsProvisional() || res.StatusCode == 100 {
		return
	}
	now := c.s.clock.Now()
	var bridge Bridge
	err := c.to(tRinging, func() {
		if c.cdr.RingingAt.IsZero() {
			c.cdr.RingingAt = now
		}
		bridge = c.bridge
	})
	if err != nil {
		return // the app has its final response
	}
	var body []byte
	early := len(res.Body()) > 0 && bridge.SetCarrierAnswer(res.Body()) == nil
	if early || bridge.AnswerEarly() {
		if b, err := bridge.AppAnswer(); err == nil {
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
	r := sip.NewResponseFromRequest(c.app.Invite(), code, reason, body)
	if body != nil {
		r.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	h := contact(c.s.cfg, transportOf(c.req))
	r.AppendHeader(&h)
	if err := c.app.Provisional(r); err != nil {
		c.log.Debug("relay provisional failed", "code", code, "error", err)
	}
}

func (c *call) carrierInvite(trunk Trunk, e164, callID, tag string, offer []byte) *sip.Request {
	user := trunk.User
	if user == "" {
		user = strings.TrimPrefix(e164, "+")
	}
	uri := sip.Uri{Scheme: "sip", User: user, Host: trunk.Host, Port: trunk.Port}
	req := sip.NewRequest(sip.INVITE, uri)
	req.SetTransport(strings.ToUpper(trunk.Transport))
	req.SetDestination(hostPort(trunk))

	caller := trunk.CallerID
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: caller, Host: c.s.cfg.Host}, Params: sip.NewParams()}
	if trunk.Privacy || caller == "" {
		// RFC 3323: the carrier may see who calls (PAI) but must not pass it on.
		from.Address = sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}
		from.DisplayName = "Anonymous"
	}
	from.Params.Add("tag", tag)
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: trunk.Host}, Params: sip.NewParams()}
	cid := sip.CallIDHeader(callID)
	h := contact(c.s.cfg, trunk.Transport)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&h)
	req.AppendHeader(sip.NewHeader("User-Agent", c.s.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	if (trunk.PAI || trunk.Privacy) && caller != "" {
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
