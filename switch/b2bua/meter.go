package b2bua

import (
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

// mediaTimeout is the bridge's report that no RTP came for too long.
func (c *call) mediaTimeout() {
	c.s.goTask(func() {
		c.log.Info("media timeout: no RTP")
		c.s.metrics.mediaTimeouts.Inc()
		c.hangup(dialtone.PartySwitch)
	})
}
