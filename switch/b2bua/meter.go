package b2bua

import (
	"errors"
	"time"

	"github.com/dialtone/dialtone"
)

// meter keeps an answered call paid for: CreditLead before its credit
// runs out it reserves more; when there is no more, it hangs up at the
// last paid second. Its timers are on the Server's clock and stop when
// the call ends.
func (c *call) meter(credit CreditCall, until time.Time) {
	c.armMeter(until.Sub(c.s.clock.Now())-c.s.cfg.CreditLead, func() { c.extend(credit, until) })
}

// armMeter sets the call's one metering timer, if the call is still up.
func (c *call) armMeter(d time.Duration, f func()) {
	c.do(func() {
		if c.state != stateConnected {
			return
		}
		c.stopMeter = c.s.after(max(d, 0), f)
	})
}

// extend reserves the next interval of credit, or arms the cut-off at
// until when the account has no more.
func (c *call) extend(credit CreditCall, until time.Time) {
	if c.ctx.Err() != nil {
		return
	}
	next, err := credit.Extend(c.ctx, c.s.clock.Now())
	if err != nil && c.ctx.Err() == nil {
		c.log.Warn("credit not extended", "error", err)
	}
	if next.After(until) {
		c.meter(credit, next)
		return
	}
	c.armMeter(until.Sub(c.s.clock.Now()), c.cutoff)
}

// cutoff ends a call whose credit has run out.
func (c *call) cutoff() {
	if c.ctx.Err() != nil {
		return
	}
	c.log.Info("credit exhausted: hanging up")
	c.s.metrics.creditCutoffs.Inc()
	c.hangup(dialtone.PartySwitch)
}

// takenOver ends a call another switch node took over while this one was
// taken for dead (a long pause, a partition from the store): that node
// charged it up to this one's last sign of life and settled it, so it
// must not go on unbilled here. BYE goes to both legs at once. A call not
// answered yet ends as it is answered: its credit is refused then.
func (c *call) takenOver() {
	c.s.goTask(func() {
		if c.current() != stateConnected {
			return
		}
		c.log.Warn("another switch node took the call over: hanging up")
		c.hangup(dialtone.PartySwitch)
	})
}

// mediaEnded is the bridge's report that the call's media ended on its
// own: no RTP for too long, the app's ICE or DTLS failing, or the app
// closing its media. A browser closes its DTLS as it hangs up and sends
// its BYE right after: the call waits ByeGrace for that BYE, so that the
// hangup is recorded as the caller's, before the switch hangs up.
func (c *call) mediaEnded(reason error) {
	if errors.Is(reason, dialtone.ErrMediaClosed) {
		c.log.Info("app closed its media: waiting for its BYE", "reason", reason, "grace", c.s.cfg.ByeGrace)
		c.do(func() {
			if c.state != stateConnected {
				return
			}
			c.stopGrace = c.s.after(c.s.cfg.ByeGrace, func() {
				if c.current() != stateConnected {
					return
				}
				c.log.Info("no BYE from the app after it closed its media: hanging up", "reason", reason)
				c.hangup(dialtone.PartySwitch)
			})
		})
		return
	}
	c.s.goTask(func() {
		c.log.Info("media ended: hanging up", "reason", reason)
		c.s.metrics.mediaTimeouts.Inc()
		c.hangup(dialtone.PartySwitch)
	})
}
