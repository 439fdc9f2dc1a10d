package b2bua

import (
	"context"
	"errors"
	"fmt"

	"github.com/dialtone/dialtone"
)

// setup routes the call, admits it by its account's limits, authorizes
// its credit, sets up its media, then dials carriers in order and
// connects the legs. It returns when the call is connected or has ended.
func (c *call) setup() error {
	// The app's CANCEL ends the app leg's context.
	stop := context.AfterFunc(c.app.Context(), func() { c.cancel(context.Canceled) })
	defer stop()

	dest, err := c.s.router.Route(c.ctx, c.acct, c.cdr.DialedRaw, c.cdr.Caller) // set by newCall, then constant
	if err != nil {
		c.do(func() { c.cdr.DialedE164 = dest.E164 }) // a refused number is on record too
		c.endSetup(errorOutcome(err), err)
		return fmt.Errorf("route: %w", err)
	}
	if err := c.to(tRouted, func() { c.cdr.DialedE164 = dest.E164 }); err != nil {
		return err
	}

	if err := c.admit(dest); err != nil {
		return err
	}

	var credit CreditCall
	if c.s.credit != nil {
		var snapshot dialtone.CDR
		c.do(func() { snapshot = c.cdr })
		credit, err = c.s.credit.Authorize(c.ctx, CreditRequest{CallID: snapshot.ID, Account: c.acct, Destination: dest, CDR: snapshot})
		if err != nil {
			c.endSetup(errorOutcome(err), err)
			return fmt.Errorf("authorize: %w", err)
		}
	}
	if err := c.to(tAuthorized, func() { c.credit = credit }); err != nil {
		return err
	}
	if credit != nil {
		credit.OnTakenOver(c.takenOver)
	}

	bridge, err := c.s.media.Bridge(c.ctx, c.cdr.ID, c.req.Body())
	if err != nil {
		c.endSetup(errorOutcome(err), err)
		return fmt.Errorf("media: %w", err)
	}
	if err := c.to(tMediaReady, func() { c.bridge = bridge }); err != nil {
		_ = bridge.Close() // the call ended meanwhile and never saw it
		return err
	}

	last := outcome{dialtone.Failed, 503, "Service Unavailable"}
	tried := false
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
		if tried {
			if err := c.to(tNextCarrier, nil); err != nil {
				release()
				return err
			}
		}
		tried = true
		r, o, err := c.dial(trunk, dest.E164, release)
		if r == dialConnected {
			return nil // hangup finishes the call
		}
		release()
		last = o
		c.log.Info("carrier attempt failed", "trunk", trunk.Name, "attempt", i+1, "result", r.String(), "code", o.code, "error", err)
		if r == dialFinal || c.ctx.Err() != nil {
			break
		}
	}
	c.endSetup(last, nil)
	return nil
}

// admit checks the routed call against its account's limits and keeps
// its place until the call finishes.
func (c *call) admit(dest Destination) error {
	if c.s.cfg.Limits == nil {
		return nil
	}
	release, err := c.s.cfg.Limits.Admit(c.ctx, c.acct, dest)
	if err != nil {
		c.endSetup(errorOutcome(err), err)
		return fmt.Errorf("limits: %w", err)
	}
	c.do(func() {
		if c.state < stateEnding { // finish has not taken the call's releases yet
			c.admitted, release = release, nil
		}
	})
	if release != nil {
		release() // the call ended meanwhile
		return fmt.Errorf("limits: call ended while admitted")
	}
	return nil
}

// endSetup ends a call that was not connected, with o unless its setup was
// ended from outside: the app's CANCEL or BYE, or the switch stopping.
func (c *call) endSetup(o outcome, err error) {
	if c.current() >= stateEnding {
		return // abort has answered the app
	}
	cause := context.Cause(c.ctx)
	switch {
	case cause == nil:
		_ = c.refuse(o, err, dialtone.PartyNone)
	case errors.Is(cause, errShutdown):
		_ = c.refuse(outcome{dialtone.Failed, 503, "Service Unavailable: shutting down"}, nil, dialtone.PartySwitch)
	case errors.Is(cause, errAppBye):
		_ = c.refuse(outcome{dialtone.Cancelled, 487, "Request Terminated"}, nil, dialtone.PartyCaller)
	default:
		// The app's CANCEL: the transaction layer has already answered 487.
		_ = c.cancelled()
	}
}
