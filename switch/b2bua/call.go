package b2bua

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/dialtone/dialtone"
)

// call is one app-to-carrier call. Its life is in its state (state.go);
// the files around this one follow it: setup.go routes and authorizes,
// dial.go tries the carriers, connected.go handles the answered call,
// teardown.go ends it and meter.go keeps it paid for.
type call struct {
	s    *Server
	acct *dialtone.Account
	req  *sip.Request // the app's INVITE
	log  *slog.Logger
	app  appLeg

	// ctx ends the call's setup: cancelled by abort (shutdown), by the
	// app's CANCEL through the app leg's context and when the call ends.
	ctx    context.Context
	cancel context.CancelCauseFunc

	// media is held for reading while a re-INVITE uses the bridge, and
	// for writing while the ending call closes it.
	media sync.RWMutex

	mu             sync.Mutex // guards what follows; taken in to and do (state.go) only
	state          callState
	changed        chan struct{} // closed and replaced at each transition
	bridge         Bridge        // set once media is ready; then constant
	carrierCallID  string        // of the attempt in progress
	carrierFromTag string        // our tag on the carrier leg
	carrierOffer   []byte        // the SDP we sent the carrier
	trunkTransport string
	carrier        carrierLeg // the attempt in progress or answered
	credit         CreditCall // nil when the call is not billed
	attempts       []string   // "trunk=answer" per carrier tried or skipped
	release        func()     // gives back the answering carrier's channel
	admitted       func()     // gives back the call's place in its account's limits
	stopMeter      func()     // stops the pending metering timer
	stopGrace      func()     // stops the wait for the app's BYE after it closed its media
	cdr            dialtone.CDR
}

func (s *Server) newCall(acct *dialtone.Account, req *sip.Request, app appLeg) *call {
	id := uuid.NewString()
	appCallID := req.CallID().Value()
	caller := ""
	if from := req.From(); from != nil {
		caller = from.Address.User
	}
	c := &call{
		s:       s,
		acct:    acct,
		req:     req,
		app:     app,
		changed: make(chan struct{}),
		cdr: dialtone.CDR{
			ID:        id,
			AppCallID: appCallID,
			AccountID: acct.ID,
			Account:   acct.Username,
			Caller:    caller,
			DialedRaw: dialed(req),
			SetupAt:   s.clock.Now(),
		},
		log: s.log.With("call_id", id, "account", acct.Username),
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	s.track(c, appCallID)
	s.metrics.attempts.Inc()
	return c
}

// attempt records what one carrier answered, for the CDR.
func (c *call) attempt(trunk, answer string) {
	c.do(func() { c.attempts = append(c.attempts, trunk+"="+answer) })
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
	var carrierCallID, carrierTag string
	c.do(func() { carrierCallID, carrierTag = c.carrierCallID, c.carrierFromTag })
	if req.CallID().Value() == carrierCallID {
		return hasTo && toTag == carrierTag
	}
	inv := c.app.Invite()
	appFrom, _ := inv.From().Params.Get("tag")
	ourTag, _ := inv.To().Params.Get("tag")
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

// dialed is what the app dialed: the user of a SIP Request-URI, or a whole
// tel: URI (RFC 3966), which the Router reads.
func dialed(req *sip.Request) string {
	if strings.EqualFold(req.Recipient.Scheme, "tel") {
		return "tel:" + req.Recipient.Raw()
	}
	return req.Recipient.User
}
