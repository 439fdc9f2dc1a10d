package b2bua

import (
	"context"
	"fmt"
	"slices"
)

// callState is where a call is in its life. It only moves forward, by the
// transitions below; c.mu guards it, taken in do and to only.
//
//	routing ─routed→ authorizing ─authorized→ media ─media-ready→ dialing
//	dialing ─ringing→ early ─ringing→ early
//	dialing|early ─next-carrier→ dialing
//	dialing|early ─answered→ connected
//	connected ─answer-cancelled→ ending  (the app's CANCEL crossed our 200 to it)
//	routing..early ─refused→ ending      (a final non-2xx to the app)
//	routing..early ─cancelled→ ending    (the app's CANCEL; 487 already sent)
//	connected ─hangup→ ending            (BYE to the leg that did not end it)
//	ending ─finished→ ended              (CDR written, call forgotten)
type callState int

const (
	stateRouting     callState = iota // the dialed number is being routed
	stateAuthorizing                  // the account's limits are checked, then its credit authorized
	stateMedia                        // the media bridge is being set up
	stateDialing                      // an INVITE is out to a carrier, nothing relayed yet
	stateEarly                        // the carrier rings or plays early media: 180/183 relayed
	stateConnected                    // the carrier answered; our 200 is out to the app or taken
	stateEnding                       // final response or BYEs going out, CDR being written
	stateEnded                        // CDR written, call forgotten
)

var stateNames = [...]string{"routing", "authorizing", "media", "dialing", "early", "connected", "ending", "ended"}

func (s callState) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("state(%d)", int(s))
	}
	return stateNames[s]
}

// transition is a named move between states.
type transition int

const (
	tRouted          transition = iota // routing → authorizing
	tAuthorized                        // authorizing → media (also with no billing)
	tMediaReady                        // media → dialing: the first carrier is tried
	tRinging                           // dialing|early → early: a 180/183 relayed
	tNextCarrier                       // dialing|early → dialing: failover
	tAnswered                          // dialing|early → connected
	tRefused                           // before connected → ending: final non-2xx to the app
	tCancelled                         // before connected → ending: the app cancelled
	tHangup                            // connected → ending
	tAnswerCancelled                   // connected → ending: the app's CANCEL crossed our 200; never answered
	tFinished                          // ending → ended
)

var beforeConnected = []callState{stateRouting, stateAuthorizing, stateMedia, stateDialing, stateEarly}

var transitions = [...]struct {
	name string
	from []callState
	to   callState
}{
	tRouted:          {"routed", []callState{stateRouting}, stateAuthorizing},
	tAuthorized:      {"authorized", []callState{stateAuthorizing}, stateMedia},
	tMediaReady:      {"media-ready", []callState{stateMedia}, stateDialing},
	tRinging:         {"ringing", []callState{stateDialing, stateEarly}, stateEarly},
	tNextCarrier:     {"next-carrier", []callState{stateDialing, stateEarly}, stateDialing},
	tAnswered:        {"answered", []callState{stateDialing, stateEarly}, stateConnected},
	tRefused:         {"refused", beforeConnected, stateEnding},
	tCancelled:       {"cancelled", beforeConnected, stateEnding},
	tHangup:          {"hangup", []callState{stateConnected}, stateEnding},
	tAnswerCancelled: {"answer-cancelled", []callState{stateConnected}, stateEnding},
	tFinished:        {"finished", []callState{stateEnding}, stateEnded},
}

func (t transition) String() string {
	if t < 0 || int(t) >= len(transitions) {
		return fmt.Sprintf("transition(%d)", int(t))
	}
	return transitions[t].name
}

// errTransition is a transition asked for in a state it does not start
// from: a call ended by one side while the other moved it on.
type errTransition struct {
	t    transition
	from callState
}

func (e *errTransition) Error() string {
	return fmt.Sprintf("call state: %s refused in state %s", e.t, e.from)
}

// to makes transition t and, while the call is locked, runs then (may be
// nil) with the fields the transition changes. A transition that does not
// start from the current state changes nothing and is returned.
func (c *call) to(t transition, then func()) error {
	c.mu.Lock()
	from := c.state
	legal := slices.Contains(transitions[t].from, from)
	if legal {
		c.state = transitions[t].to
		if then != nil {
			then()
		}
		close(c.changed)
		c.changed = make(chan struct{})
	}
	log := c.log
	c.mu.Unlock()
	if !legal {
		err := &errTransition{t, from}
		log.Info("call state: transition refused", "transition", t.String(), "state", from.String())
		return err
	}
	log.Debug("call state", "transition", t.String(), "from", from.String(), "to", transitions[t].to.String())
	return nil
}

// do runs f with the call locked: the one way, besides to, to read or
// change the call's shared fields.
func (c *call) do(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

// current is the call's state.
func (c *call) current() callState {
	var s callState
	c.do(func() { s = c.state })
	return s
}

// reached returns when the call is in state s or past it, or when ctx ends.
func (c *call) reached(ctx context.Context, s callState) (callState, error) {
	for {
		var now callState
		var changed chan struct{}
		c.do(func() { now, changed = c.state, c.changed })
		if now >= s {
			return now, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return now, ctx.Err()
		}
	}
}
