package b2bua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
)

// abort ends the call from the switch's side: BYE on both legs if it is
// up; otherwise 503 to the app now (the setup's carrier INVITE is
// cancelled as its context ends) so shutdown never waits on a carrier.
func (c *call) abort() {
	c.cancel(errShutdown)
	for {
		switch st := c.current(); {
		case st == stateConnected:
			c.hangup(dialtone.PartySwitch)
			return
		case st >= stateEnding:
			return // its final response is out; the call is ending on its own
		}
		if c.refuse(outcome{dialtone.Failed, 503, "Service Unavailable: shutting down"}, nil, dialtone.PartySwitch) == nil {
			return
		}
		// The carrier answered meanwhile: hang the call up.
	}
}

// warning is an error that tells the app why its call was refused, in a
// Warning header: a blocked destination, a caller ID not allowed.
type warning interface{ Warning() string }

// refuse answers the app with o, a final non-2xx, and ends the call. The
// response goes through the app's INVITE transaction, which retransmits
// it and absorbs the ACK (RFC 3261 section 17.2.1), so nothing waits for
// an app that never ACKs. It fails when the call is connected or ending.
func (c *call) refuse(o outcome, err error, by dialtone.Party) error {
	now := c.s.clock.Now()
	terr := c.to(tRefused, func() {
		if c.cdr.HangupBy == dialtone.PartyNone {
			c.cdr.HangupBy = by
		}
		c.cdr.EndAt = now
	})
	if terr != nil {
		return terr
	}
	if err != nil {
		c.log.Info("call refused", "code", o.code, "reason", o.reason, "error", err)
	}
	res := sip.NewResponseFromRequest(c.app.Invite(), o.code, o.reason, nil)
	var w warning
	switch {
	case o.code == 488 && err != nil:
		// RFC 3261 section 20.43: say what was wrong with the offer.
		res.AppendHeader(sip.NewHeader("Warning", fmt.Sprintf("305 %s %q", c.s.cfg.Host, strings.ReplaceAll(err.Error(), `"`, "'"))))
	case errors.As(err, &w):
		// 399: miscellaneous warning, the policy that refused the call.
		res.AppendHeader(sip.NewHeader("Warning", fmt.Sprintf("399 %s %q", c.s.cfg.Host, strings.ReplaceAll(w.Warning(), `"`, "'"))))
	}
	if err := c.app.Reject(res); err != nil {
		c.log.Debug("final response not sent", "code", o.code, "error", err)
	}
	c.finish(o)
	return nil
}

// cancelled ends a call the app cancelled before the answer; the
// transaction layer has answered its INVITE 487.
func (c *call) cancelled() error {
	now := c.s.clock.Now()
	err := c.to(tCancelled, func() {
		if c.cdr.HangupBy == dialtone.PartyNone {
			c.cdr.HangupBy = dialtone.PartyCaller
		}
		c.cdr.EndAt = now
	})
	if err != nil {
		return err
	}
	c.finish(outcome{dialtone.Cancelled, 487, "Request Terminated"})
	return nil
}

// appBye is the BYE for the app: to its Contact, sent where its INVITE
// came from. An app behind NAT, and every browser, cannot be reached at its
// Contact (a WebSocket client's is a made-up *.invalid host, RFC 7118
// section 5.2): the BYE goes back over the connection or through the
// NAT binding the INVITE used.
func (c *call) appBye() *sip.Request {
	inv := c.app.Invite()
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
	ctx, cancel := c.s.withTimeout(c.ctx, 10*time.Second)
	defer cancel()
	c.byeCarrierCtx(ctx)
}

func (c *call) byeCarrierCtx(ctx context.Context) {
	var leg carrierLeg
	c.do(func() { leg = c.carrier })
	if leg == nil {
		return
	}
	if err := leg.Bye(ctx); err != nil {
		c.log.Debug("bye to carrier failed", "error", err)
	}
}

// finish closes the media, writes the CDR and forgets the call. Only the
// caller that moved the call to ending calls it.
func (c *call) finish(o outcome) {
	var cdr dialtone.CDR
	var bridge Bridge
	var credit CreditCall
	var release, stopMeter, stopGrace, admitted func()
	c.do(func() {
		cdr = c.cdr
		cdr.Attempts = strings.Join(c.attempts, ";")
		bridge, credit, release, stopMeter, stopGrace, admitted = c.bridge, c.credit, c.release, c.stopMeter, c.stopGrace, c.admitted
		c.release, c.stopMeter, c.stopGrace, c.admitted = nil, nil, nil, nil
	})
	if admitted != nil {
		defer admitted() // once the call's money is settled, so that its spending counts
	}
	if stopMeter != nil {
		stopMeter()
	}
	if stopGrace != nil {
		stopGrace()
	}
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
		c.media.Lock() // a re-INVITE in progress uses the bridge
		cdr.AppCodec, cdr.CarrierCodec = bridge.Codecs()
		cdr.AppPackets, cdr.AppLost, cdr.CarrierPackets, cdr.CarrierLost = bridge.Stats()
		if err := bridge.Close(); err != nil {
			c.log.Debug("close media", "error", err)
		}
		c.media.Unlock()
	}
	c.cancel(context.Canceled)
	_ = c.app.Close()

	ctx, cancel := c.s.withTimeout(c.ctx, 10*time.Second)
	defer cancel()
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
	if err := c.to(tFinished, nil); err != nil {
		c.log.Error("call state: not ending as it finished", "error", err)
	}
	c.log.Info("call ended", "state", stateEnded.String(), "to", cdr.DialedE164, "disposition", cdr.Disposition, "code", cdr.SIPCode,
		"hangup_by", cdr.HangupBy, "billed_seconds", cdr.BilledSeconds, "price", cdr.Price)
}
