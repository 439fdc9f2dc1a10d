package b2bua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
)

// connect finishes an answered call: ACK to the carrier, 200 to the app.
func (c *call) connect(leg carrierLeg, res *sip.Response, trunk Trunk, release func()) (dialResult, outcome, error) {
	now := c.s.clock.Now()
	ackCtx, cancel := c.s.withTimeout(c.ctx, 5*time.Second)
	defer cancel()
	if err := leg.Ack(ackCtx); err != nil {
		c.log.Warn("ack to carrier failed", "trunk", trunk.Name, "error", err)
	}
	var bridge Bridge
	c.do(func() { bridge = c.bridge })
	code := strconv.Itoa(res.StatusCode)
	if err := bridge.SetCarrierAnswer(res.Body()); err != nil {
		c.attempt(trunk.Name, code+":unusable-sdp")
		c.byeCarrier()
		return dialNextCarrier, outcome{dialtone.Failed, 488, "Not Acceptable Here: carrier media unusable"}, fmt.Errorf("carrier answer sdp: %w", err)
	}
	answer, err := bridge.AppAnswer()
	if err != nil {
		c.attempt(trunk.Name, code+":unusable-sdp")
		c.byeCarrier()
		return dialFinal, errorOutcome(err), fmt.Errorf("app answer sdp: %w", err)
	}
	if cause := context.Cause(c.ctx); cause != nil {
		// The call's setup ended as the carrier answered (the app's CANCEL
		// or BYE, the switch stopping): the answer crossed it. The
		// carrier's leg, ACKed above, is ended (RFC 3261 section 15) and
		// the call was never answered.
		return c.crossedAnswer(trunk, code, cause)
	}
	c.attempt(trunk.Name, code)

	var snapshot dialtone.CDR
	var credit CreditCall
	err = c.to(tAnswered, func() {
		c.cdr.AnswerAt = now
		if c.cdr.RingingAt.IsZero() {
			c.cdr.RingingAt = now
		}
		c.release = release
		snapshot, credit = c.cdr, c.credit
	})
	if err != nil {
		// The call ended as the carrier answered (the switch stops): the
		// app has its final response; end the carrier's leg.
		c.byeCarrier()
		return dialFinal, outcome{dialtone.Failed, 503, "Service Unavailable: shutting down"}, err
	}
	c.s.metrics.trunkAnswered.WithLabelValues(trunk.Name).Inc()
	bridge.Start(c.mediaEnded)
	if credit != nil {
		until, err := credit.Answered(c.ctx, now, &snapshot)
		if err != nil {
			c.log.Warn("credit not reserved: the call ends at once", "error", err)
		}
		c.meter(credit, until)
	}

	ok := sip.NewSDPResponseFromRequest(c.app.Invite(), answer)
	h := contact(c.s.cfg, transportOf(c.req))
	ok.AppendHeader(&h)
	// Answer retransmits the 200 until the app's ACK (RFC 3261 13.3.1.4).
	if err := c.app.Answer(ok); err != nil {
		if errors.Is(err, sip.ErrTransactionCanceled) {
			// The app's CANCEL crossed our 200: it has its 487, and the
			// call never connected to it.
			c.answerCancelled()
			return dialConnected, outcome{}, nil
		}
		c.log.Info("app did not take the answer", "error", err)
		c.hangup(dialtone.PartySwitch)
		return dialConnected, outcome{}, nil
	}
	c.log.Info("call connected", "trunk", trunk.Name, "state", stateConnected.String())
	return dialConnected, outcome{}, nil
}

// crossedAnswer ends a carrier leg that answered after the call's setup
// ended, and records what happened to it: its 200, and why it was ended.
func (c *call) crossedAnswer(trunk Trunk, code string, cause error) (dialResult, outcome, error) {
	why := "cancelled"
	if errors.Is(cause, errShutdown) {
		why = "shutdown"
	}
	c.attempt(trunk.Name, code+":"+why)
	c.log.Info("carrier answered after the call ended: ending its leg", "trunk", trunk.Name, "cause", cause)
	c.byeCarrier()
	return dialFinal, outcome{dialtone.Cancelled, 487, "Request Terminated"}, fmt.Errorf("carrier %s answered after the call ended: %w", trunk.Name, cause)
}

// answerCancelled ends a call whose app cancelled as our 200 went out to
// it: the transaction layer answered its CANCEL 487, so the app never took
// the answer. The carrier's leg is ended with BYE and the call recorded
// as cancelled by the caller, not answered: nothing is billed.
func (c *call) answerCancelled() {
	now := c.s.clock.Now()
	err := c.to(tAnswerCancelled, func() {
		if c.cdr.HangupBy == dialtone.PartyNone {
			c.cdr.HangupBy = dialtone.PartyCaller
		}
		c.cdr.AnswerAt = time.Time{}
		c.cdr.EndAt = now
		if n := len(c.attempts); n > 0 {
			c.attempts[n-1] += ":cancelled"
		}
	})
	if err != nil {
		return // the carrier hung up first, or the switch is stopping
	}
	c.log.Info("app cancelled as it was answered: ending the carrier's leg")
	c.byeCarrier()
	c.finish(outcome{dialtone.Cancelled, 487, "Request Terminated"})
}

// hangup ends a connected call: BYE to whichever leg did not end it.
// Only the first hangup of a call does anything.
func (c *call) hangup(by dialtone.Party) {
	now := c.s.clock.Now()
	err := c.to(tHangup, func() {
		if c.cdr.HangupBy == dialtone.PartyNone {
			c.cdr.HangupBy = by
		}
		c.cdr.EndAt = now
	})
	if err != nil {
		return // ending already, or never connected
	}
	ctx, cancel := c.s.withTimeout(c.ctx, 10*time.Second)
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
			if err := c.app.Bye(ctx, c.appBye()); err != nil {
				c.log.Debug("bye to app failed", "error", err)
			}
		}()
	}
	wg.Wait()
	c.finish(outcome{dialtone.Answered, 200, "OK"})
}

// reinvite answers a re-INVITE inside the connected call with the SDP we
// already gave, keeping the call up (session refresh or codec re-offer).
// A re-INVITE from the app may move its media or put it on hold. A call
// that ends meanwhile closes its bridge only after this returns.
func (c *call) reinvite(fromCarrier bool, offer []byte) (code int, reason string, sdp []byte) {
	c.media.RLock()
	defer c.media.RUnlock()
	var state callState
	var bridge Bridge
	var carrierOffer []byte
	c.do(func() { state, bridge, carrierOffer = c.state, c.bridge, c.carrierOffer })
	if bridge == nil || state >= stateEnding {
		return 481, "Call/Transaction Does Not Exist", nil
	}
	if fromCarrier {
		// A carrier's session refresh (RFC 4028) or re-offer: keep the
		// call and answer with what we offered it.
		return 200, "OK", carrierOffer
	}
	if len(offer) > 0 {
		// The app moved (a new network) or put the call on hold.
		if err := bridge.UpdateApp(offer); err != nil {
			return 488, "Not Acceptable Here", nil
		}
	}
	answer, err := bridge.AppAnswer()
	if err != nil {
		return 488, "Not Acceptable Here", nil
	}
	return 200, "OK", answer
}

// HandleAck confirms the app leg's 2xx.
func (s *Server) HandleAck(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		return
	}
	if err := c.app.ReadAck(req, tx); err != nil {
		c.log.Debug("ack not matched", "error", err)
	}
}

// HandleBye ends the call on the other leg of whoever sent BYE.
func (s *Server) HandleBye(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	s.tasks.add()
	defer s.tasks.done()
	var fromCarrier bool
	var carrier carrierLeg
	var state callState
	c.do(func() {
		fromCarrier = req.CallID().Value() == c.carrierCallID
		carrier, state = c.carrier, c.state
	})
	if fromCarrier {
		if carrier == nil || state < stateConnected {
			// A carrier may not end a dialog it has not answered (RFC 3261 section 15).
			respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
		if err := carrier.ReadBye(req, tx); err != nil {
			respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
		c.hangup(dialtone.PartyCallee)
		return
	}
	if state < stateConnected {
		// BYE before the answer: end the attempt like a CANCEL would.
		respond(tx, req, 200, "OK")
		c.cancel(errAppBye)
		return
	}
	if err := c.app.ReadBye(req, tx); err != nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.hangup(dialtone.PartyCaller)
}

// handleReinvite answers a re-INVITE inside a known call.
func (s *Server) handleReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	s.tasks.add()
	defer s.tasks.done()
	var carrierCallID, transport string
	c.do(func() { carrierCallID, transport = c.carrierCallID, c.trunkTransport })
	fromCarrier := req.CallID().Value() == carrierCallID
	if !fromCarrier {
		transport = transportOf(req)
	}
	code, reason, sdp := c.reinvite(fromCarrier, req.Body())
	if code != 200 {
		respond(tx, req, code, reason)
		return
	}
	res := sip.NewSDPResponseFromRequest(req, sdp)
	h := contact(s.cfg, transport)
	res.AppendHeader(&h)
	if err := tx.Respond(res); err != nil {
		c.log.Debug("re-invite response failed", "carrier", fromCarrier, "error", err)
	}
}
