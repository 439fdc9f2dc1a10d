package b2bua

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
)

// answer runs a call to connected on one carrier: 180, then 200.
func answer(t *testing.T, h *harness) (*testCall, *fakeCarrier) {
	t.Helper()
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	k.respond(200, "OK", "carrier-answer")
	tc.setupDone()
	if s := tc.c.current(); s != stateConnected {
		t.Fatalf("state after the answer = %s, want connected", s)
	}
	return tc, k
}

func TestAnsweredAppHangsUp(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, k := answer(t, h)
	h.clock.Advance(30 * time.Second)
	tx := tc.bye(false)
	tc.ended()

	checkEvents(t, "app", tc.app.Events(), "180", "200")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	if got := tx.codes(); len(got) != 1 || got[0] != 200 {
		t.Errorf("app's BYE answered %v, want 200", got)
	}
	c := h.cdr()
	checkCDR(t, c, dialtone.Answered, 200, dialtone.PartyCaller, 30)
	if c.Trunk != "t1" || c.Attempts != "t1=200" || c.DialedE164 != "+442079460018" || c.CarrierCallID == "" || c.CarrierCallID == c.AppCallID {
		t.Errorf("CDR trunk %q attempts %q e164 %q call ids %q/%q", c.Trunk, c.Attempts, c.DialedE164, c.AppCallID, c.CarrierCallID)
	}
	if got := h.media.last().Events(); !strings.Contains(strings.Join(got, ","), "close") {
		t.Errorf("bridge events %q, want it closed", got)
	}
	// The states and transitions are in the log by name.
	for _, want := range []string{"transition=routed", "transition=ringing", "transition=answered", "to=connected", "transition=hangup", "transition=finished", "state=ended"} {
		if !strings.Contains(h.logs.String(), want) {
			t.Errorf("log has no %q", want)
		}
	}
	h.noTasks()
}

func TestAnsweredCarrierHangsUp(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, k := answer(t, h)
	h.clock.Advance(12*time.Second + 100*time.Millisecond)
	tx := tc.bye(true)
	tc.ended()

	checkEvents(t, "app", tc.app.Events(), "180", "200", "BYE")
	checkEvents(t, "carrier", k.Events(), "ACK")
	if got := tx.codes(); len(got) != 1 || got[0] != 200 {
		t.Errorf("carrier's BYE answered %v, want 200", got)
	}
	checkCDR(t, h.cdr(), dialtone.Answered, 200, dialtone.PartyCallee, 13)
	h.noTasks()
}

// The far end's own answers end the call: no other carrier is tried.
func TestFinalAnswersNoFailover(t *testing.T) {
	for _, tt := range []struct {
		code int
		disp dialtone.Disposition
	}{
		{486, dialtone.Busy},
		{404, dialtone.Failed},
		{603, dialtone.Failed},
	} {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			h := newHarness(t, nil, trunk("t1"), trunk("t2"))
			tc := h.dial("442079460018", "PCMA")
			h.legs.next(t).respond(tt.code, "", "")
			tc.setupDone()
			tc.ended()
			checkEvents(t, "app", tc.app.Events(), strconv.Itoa(tt.code))
			checkCDR(t, h.cdr(), tt.disp, tt.code, dialtone.PartyNone, 0)
			if n := len(h.legs.invited); n != 0 {
				t.Errorf("%d more carriers tried after %d, want none", n, tt.code)
			}
			if c := h.cdr(); c.Attempts != "t1="+strconv.Itoa(tt.code) || !c.AnswerAt.IsZero() {
				t.Errorf("CDR attempts %q answered at %v", c.Attempts, c.AnswerAt)
			}
			h.noTasks()
		})
	}
}

// A carrier's own failure moves the call to the next carrier.
func TestFailover(t *testing.T) {
	for _, tt := range []struct {
		name     string
		fail     func(h *harness, k *fakeCarrier)
		attempt  string
		carrier1 []string
	}{
		{"503", func(h *harness, k *fakeCarrier) { k.respond(503, "Service Unavailable", "") }, "503", nil},
		{"408", func(h *harness, k *fakeCarrier) { k.respond(408, "Request Timeout", "") }, "408", nil},
		{"500", func(h *harness, k *fakeCarrier) { k.respond(500, "Server Internal Error", "") }, "500", nil},
		{"no response", func(h *harness, k *fakeCarrier) {
			<-k.waiting
			h.clock.Advance(2 * time.Second) // the trunk's invite timeout
		}, "no-response", []string{"silent"}},
		{"unusable answer", func(h *harness, k *fakeCarrier) { k.respond(200, "OK", "G729") }, "200:unusable-sdp", []string{"ACK", "BYE"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t1 := trunk("t1")
			t1.InviteTimeout = 2 * time.Second
			h := newHarness(t, nil, t1, trunk("t2"))
			tc := h.dial("442079460018", "PCMA")
			k1 := h.legs.next(t)
			tt.fail(h, k1)
			k2 := h.legs.next(t)
			if k2.inv.Recipient.Host != "t2.test" {
				t.Fatalf("second INVITE to %s, want t2.test", k2.inv.Recipient.Host)
			}
			k2.respond(200, "OK", "carrier-answer")
			tc.setupDone()
			tc.reach(stateConnected)
			tc.bye(false)
			tc.ended()
			checkEvents(t, "app", tc.app.Events(), "200")
			checkEvents(t, "carrier 1", k1.Events(), tt.carrier1...)
			checkEvents(t, "carrier 2", k2.Events(), "ACK", "BYE")
			c := h.cdr()
			checkCDR(t, c, dialtone.Answered, 200, dialtone.PartyCaller, 0)
			if c.Trunk != "t2" || c.Attempts != "t1="+tt.attempt+";t2=200" {
				t.Errorf("CDR trunk %q attempts %q, want t2 and t1=%s;t2=200", c.Trunk, c.Attempts, tt.attempt)
			}
			if !strings.Contains(h.logs.String(), "transition=next-carrier") || !strings.Contains(h.logs.String(), "result=next-carrier") {
				t.Error("log names neither the next-carrier transition nor the dial result")
			}
			h.noTasks()
		})
	}
}

func TestAllCarriersFail(t *testing.T) {
	down := trunk("t3")
	down.Acquire = func() (func(), error) { return nil, errors.New("down") }
	h := newHarness(t, nil, trunk("t1"), trunk("t2"), down)
	h.legs.refuse["t2.test"] = errors.New("network unreachable")
	tc := h.dial("442079460018", "PCMA")
	h.legs.next(t).respond(503, "Service Unavailable", "")
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "503")
	c := h.cdr()
	checkCDR(t, c, dialtone.Failed, 503, dialtone.PartyNone, 0)
	if c.Attempts != "t1=503;t2=transport;t3=skipped:down" {
		t.Errorf("CDR attempts %q", c.Attempts)
	}
	h.noTasks()
}

func TestRingTimeout(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"), trunk("t2"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	h.clock.Advance(59 * time.Second)
	if s := tc.c.current(); s != stateEarly {
		t.Fatalf("state before the ring timeout = %s, want early", s)
	}
	h.clock.Advance(time.Second)
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "480")
	checkEvents(t, "carrier", k.Events(), "CANCEL")
	c := h.cdr()
	checkCDR(t, c, dialtone.NoAnswer, 480, dialtone.PartyNone, 0)
	if c.Attempts != "t1=ring-timeout" || c.RingingAt.IsZero() {
		t.Errorf("CDR attempts %q ringing at %v", c.Attempts, c.RingingAt)
	}
	if n := len(h.legs.invited); n != 0 {
		t.Errorf("another carrier tried after the ring timeout")
	}
	h.noTasks()
}

func TestCancelBeforeAnswer(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	tc.app.CANCEL()
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "487")
	checkEvents(t, "carrier", k.Events(), "CANCEL")
	checkCDR(t, h.cdr(), dialtone.Cancelled, 487, dialtone.PartyCaller, 0)
	if !strings.Contains(h.logs.String(), "transition=cancelled") {
		t.Error("log has no cancelled transition")
	}
	h.noTasks()
}

// The carrier's 200 crosses our CANCEL: the carrier's leg is ACKed and
// ended, the app has its 487, and nothing is billed.
func TestCancelCrossesAnswer(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.afterCancel = 200
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	tc.app.CANCEL()
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "487")
	checkEvents(t, "carrier", k.Events(), "CANCEL", "ACK", "BYE")
	c := h.cdr()
	checkCDR(t, c, dialtone.Cancelled, 487, dialtone.PartyCaller, 0)
	if !c.AnswerAt.IsZero() || c.Attempts != "t1=200:cancelled" {
		t.Errorf("CDR answered at %v attempts %q, want never and t1=200:cancelled", c.AnswerAt, c.Attempts)
	}
	h.noTasks()
}

// The carrier's 200 crosses the CANCEL the ring timeout sent: its leg is
// ACKed and ended, the app is told no answer, and nothing is billed.
func TestRingTimeoutCrossesAnswer(t *testing.T) {
	h := newHarness(t, &fakeCredit{max: time.Hour}, trunk("t1"), trunk("t2"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.afterCancel = 200
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	h.clock.Advance(60 * time.Second)
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "480")
	checkEvents(t, "carrier", k.Events(), "CANCEL", "ACK", "BYE")
	c := h.cdr()
	checkCDR(t, c, dialtone.NoAnswer, 480, dialtone.PartyNone, 0)
	if !c.AnswerAt.IsZero() || c.Attempts != "t1=200:ring-timeout" || c.Currency != "EUR" {
		t.Errorf("CDR answered at %v attempts %q currency %q, want never, t1=200:ring-timeout, settled by the credit", c.AnswerAt, c.Attempts, c.Currency)
	}
	if n := len(h.legs.invited); n != 0 {
		t.Errorf("another carrier tried after the ring timeout")
	}
	h.noTasks()
}

// The app cancels after the carrier's 200 has been taken but before the
// call connects: no CANCEL can go to the carrier any more, so its leg is
// ACKed and ended with BYE; the call is cancelled, not answered.
func TestAppCancelsAsCarrierAnswers(t *testing.T) {
	h := newHarness(t, &fakeCredit{max: time.Hour}, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.ackHold, k.acking = make(chan struct{}), make(chan struct{})
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	k.respond(200, "OK", "carrier-answer")
	wait(t, k.acking, "the ACK to the carrier's 200")
	tc.app.CANCEL()
	wait(t, tc.c.ctx.Done(), "the app's CANCEL to reach the call")
	close(k.ackHold)
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "487")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	c := h.cdr()
	checkCDR(t, c, dialtone.Cancelled, 487, dialtone.PartyCaller, 0)
	if !c.AnswerAt.IsZero() || c.Attempts != "t1=200:cancelled" {
		t.Errorf("CDR answered at %v attempts %q, want never and t1=200:cancelled", c.AnswerAt, c.Attempts)
	}
	if strings.Contains(h.logs.String(), "transition=answered") {
		t.Error("the call moved to connected after the app cancelled")
	}
	h.noTasks()
}

// The app's CANCEL crosses the 200 we relay to it: the transaction layer
// answers the CANCEL 487 and will not send our 200. The app never took the
// answer: the carrier's leg is ended with BYE, the call is recorded as
// cancelled by the caller and nothing is billed, though credit was
// reserved at the carrier's answer.
func TestAppCancelCrossesOurAnswer(t *testing.T) {
	h := newHarness(t, &fakeCredit{max: time.Hour}, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	tc.app.cancelAtAnswer = true
	k := h.legs.next(t)
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	h.clock.Advance(2 * time.Second)
	k.respond(200, "OK", "carrier-answer")
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "487")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	c := h.cdr()
	checkCDR(t, c, dialtone.Cancelled, 487, dialtone.PartyCaller, 0)
	if !c.AnswerAt.IsZero() || c.Duration != 0 || c.Attempts != "t1=200:cancelled" || c.Currency != "EUR" {
		t.Errorf("CDR answered at %v for %v attempts %q currency %q, want never, t1=200:cancelled, settled by the credit",
			c.AnswerAt, c.Duration, c.Attempts, c.Currency)
	}
	if !strings.Contains(h.logs.String(), "transition=answer-cancelled") {
		t.Error("log has no answer-cancelled transition")
	}
	if n := h.clock.pending(); n != 0 {
		t.Errorf("%d timers pending after the call ended, want 0", n)
	}
	h.noTasks()
}

// The app's BYE before the answer ends the attempt like a CANCEL.
func TestAppByeBeforeAnswer(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	tx := tc.bye(false)
	tc.setupDone()
	tc.ended()
	if got := tx.codes(); len(got) != 1 || got[0] != 200 {
		t.Errorf("BYE answered %v, want 200", got)
	}
	checkEvents(t, "app", tc.app.Events(), "180", "487")
	checkEvents(t, "carrier", k.Events(), "CANCEL")
	checkCDR(t, h.cdr(), dialtone.Cancelled, 487, dialtone.PartyCaller, 0)
	h.noTasks()
}

// A carrier may not BYE a dialog it has not answered.
func TestCarrierByeBeforeAnswer(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.respond(180, "Ringing", "")
	tc.app.saw(t, "180")
	if got := tc.bye(true).codes(); len(got) != 1 || got[0] != 481 {
		t.Errorf("carrier's early BYE answered %v, want 481", got)
	}
	if s := tc.c.current(); s != stateEarly {
		t.Errorf("state = %s, want early", s)
	}
	k.respond(486, "Busy Here", "")
	tc.ended()
	checkCDR(t, h.cdr(), dialtone.Busy, 486, dialtone.PartyNone, 0)
	h.noTasks()
}

func TestCodecMismatch(t *testing.T) {
	t.Run("app offers G729 only", func(t *testing.T) {
		h := newHarness(t, nil, trunk("t1"))
		tc := h.dial("442079460018", "G729")
		tc.setupDone()
		tc.ended()
		checkEvents(t, "app", tc.app.Events(), "488")
		c := h.cdr()
		checkCDR(t, c, dialtone.Failed, 488, dialtone.PartyNone, 0)
		if c.Trunk != "" || c.CarrierCallID != "" || len(h.legs.carriers) != 0 {
			t.Errorf("CDR trunk %q carrier call-id %q, %d INVITEs: want none for a call never sent", c.Trunk, c.CarrierCallID, len(h.legs.carriers))
		}
		h.noTasks()
	})
	t.Run("carrier answers G729", func(t *testing.T) {
		h := newHarness(t, nil, trunk("t1"))
		tc := h.dial("442079460018", "PCMA")
		k := h.legs.next(t)
		k.respond(200, "OK", "G729")
		tc.setupDone()
		tc.ended()
		checkEvents(t, "app", tc.app.Events(), "488")
		checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
		c := h.cdr()
		checkCDR(t, c, dialtone.Failed, 488, dialtone.PartyNone, 0)
		if c.Attempts != "t1=200:unusable-sdp" {
			t.Errorf("CDR attempts %q", c.Attempts)
		}
		h.noTasks()
	})
}

func TestEarlyMedia(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.respond(180, "Ringing", "early-sdp") // early media: the app gets a 183
	tc.app.saw(t, "183")
	if s := tc.c.current(); s != stateEarly {
		t.Errorf("state after 183 = %s, want early", s)
	}
	if got := h.media.last().Events(); len(got) == 0 || got[0] != "carrier-sdp:early-sdp" {
		t.Errorf("bridge events %q, want the early SDP applied", got)
	}
	h.clock.Advance(3 * time.Second)
	k.respond(200, "OK", "carrier-answer")
	tc.setupDone()
	h.clock.Advance(10 * time.Second)
	tc.bye(true)
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "183", "200", "BYE")
	c := h.cdr()
	checkCDR(t, c, dialtone.Answered, 200, dialtone.PartyCallee, 10)
	if got := c.AnswerAt.Sub(c.RingingAt); got != 3*time.Second {
		t.Errorf("CDR rang for %v, want 3s", got)
	}
	h.noTasks()
}

func TestMediaTimeout(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, k := answer(t, h)
	h.clock.Advance(20 * time.Second)
	h.media.last().timeout()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "200", "BYE")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	checkCDR(t, h.cdr(), dialtone.Answered, 200, dialtone.PartySwitch, 20)
	if !strings.Contains(h.logs.String(), "media timeout: no RTP") {
		t.Error("log does not say the media timed out")
	}
	h.s.Close() // the hangup goroutine is waited for
	h.noTasks()
}

// A browser closes its DTLS (close_notify) as it hangs up, and its BYE
// comes right after: the hangup is the caller's, and nothing in the log
// says the media timed out.
func TestAppClosesMediaThenBye(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, k := answer(t, h)
	h.clock.Advance(10 * time.Second)
	h.media.last().closeNotify()
	h.clock.Advance(h.s.cfg.ByeGrace - time.Millisecond)
	if s := tc.c.current(); s != stateConnected {
		t.Fatalf("state within the grace for the BYE = %s, want connected", s)
	}
	tx := tc.bye(false)
	tc.ended()
	if got := tx.codes(); len(got) != 1 || got[0] != 200 {
		t.Errorf("app's BYE answered %v, want 200", got)
	}
	checkEvents(t, "app", tc.app.Events(), "180", "200")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	checkCDR(t, h.cdr(), dialtone.Answered, 200, dialtone.PartyCaller, 11)
	logs := h.logs.String()
	if strings.Contains(logs, "media timeout") || !strings.Contains(logs, "dtls closed by peer") {
		t.Errorf("log names a media timeout or not the DTLS close:\n%s", logs)
	}
	if n := h.clock.pending(); n != 0 {
		t.Errorf("%d timers pending after the call ended, want 0", n)
	}
	h.noTasks()
}

// An app that closes its media and sends no BYE is hung up by the switch
// once the grace has passed, with the real reason in the log.
func TestAppClosesMediaNoBye(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, k := answer(t, h)
	h.clock.Advance(5 * time.Second)
	h.media.last().closeNotify()
	h.clock.Advance(h.s.cfg.ByeGrace)
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "200", "BYE")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	checkCDR(t, h.cdr(), dialtone.Answered, 200, dialtone.PartySwitch, 6)
	logs := h.logs.String()
	if strings.Contains(logs, "media timeout") || !strings.Contains(logs, "no BYE from the app after it closed its media") ||
		!strings.Contains(logs, "dtls closed by peer") {
		t.Errorf("log does not give the DTLS close as the reason:\n%s", logs)
	}
	h.noTasks()
}

// The carrier hangs up while the call waits for the app's BYE after the
// app closed its media: the callee's hangup stands and no timer is left.
func TestCarrierByeDuringByeGrace(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, _ := answer(t, h)
	h.media.last().closeNotify()
	tc.bye(true)
	tc.ended()
	checkCDR(t, h.cdr(), dialtone.Answered, 200, dialtone.PartyCallee, 0)
	if n := h.clock.pending(); n != 0 {
		t.Errorf("%d timers pending after the call ended, want 0", n)
	}
	h.clock.Advance(h.s.cfg.ByeGrace)
	h.noTasks()
}

// A call is cut off at the last second the account can pay for.
func TestCreditCutoff(t *testing.T) {
	h := newHarness(t, &fakeCredit{max: 60 * time.Second}, trunk("t1"))
	tc, k := answer(t, h)
	h.clock.Advance(54 * time.Second)
	if h.credit.extends != 0 {
		t.Fatalf("credit extended %d times before the lead, want 0", h.credit.extends)
	}
	h.clock.Advance(time.Second) // CreditLead (5 s) before the end: ask for more
	if h.credit.extends != 1 || tc.c.current() != stateConnected {
		t.Fatalf("after the lead: %d extends, state %s; want 1, connected", h.credit.extends, tc.c.current())
	}
	h.clock.Advance(5*time.Second - time.Millisecond)
	if s := tc.c.current(); s != stateConnected {
		t.Fatalf("state a millisecond before the cut-off = %s, want connected", s)
	}
	h.clock.Advance(time.Millisecond)
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "200", "BYE")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	c := h.cdr()
	checkCDR(t, c, dialtone.Answered, 200, dialtone.PartySwitch, 60)
	if c.Currency != "EUR" {
		t.Errorf("CDR not written through the credit's Finish")
	}
	if n := h.clock.pending(); n != 0 {
		t.Errorf("%d timers pending after the call ended, want 0", n)
	}
	h.noTasks()
}

// A call another switch node took over is hung up at once, BYE to both
// legs, long before its credit runs out.
func TestCreditTakenOver(t *testing.T) {
	h := newHarness(t, &fakeCredit{max: 60 * time.Second}, trunk("t1"))
	tc, k := answer(t, h)
	h.clock.Advance(40 * time.Second) // the 200's timers are done: the meter's is left
	h.credit.mu.Lock()
	takeOver := h.credit.takeOver
	h.credit.mu.Unlock()
	if takeOver == nil {
		t.Fatal("the call's credit was given no OnTakenOver function")
	}
	takeOver()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "180", "200", "BYE")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	checkCDR(t, h.cdr(), dialtone.Answered, 200, dialtone.PartySwitch, 40)
	if h.credit.extends != 0 {
		t.Errorf("credit extended %d times, want 0", h.credit.extends)
	}
	// The hang-up runs in a task of its own, which may still be stopping
	// the call's timers as its CDR is written: give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for h.clock.pending() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := h.clock.pending(); n != 0 {
		t.Errorf("%d timers pending after the call ended, want 0", n)
	}
	h.noTasks()
}

func TestCreditRefused(t *testing.T) {
	h := newHarness(t, &fakeCredit{refuse: dialtone.ErrInsufficientFunds}, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "402")
	checkCDR(t, h.cdr(), dialtone.Failed, 402, dialtone.PartyNone, 0)
	if len(h.legs.carriers) != 0 {
		t.Error("a refused call reached a carrier")
	}
	h.noTasks()
}

// Drain refuses new calls and waits for the active ones to end.
func TestDrain(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, _ := answer(t, h)
	drained := make(chan int)
	go func() { drained <- h.s.Drain(context.Background()) }()
	for !h.s.Draining() {
		// Drain sets the flag first thing; wait for it without sleeping.
		select {
		case n := <-drained:
			t.Fatalf("Drain returned %d with a call up", n)
		default:
			runtime.Gosched()
		}
	}
	refused := h.dial("442079460019", "PCMA")
	refused.setupDone()
	refused.ended()
	checkEvents(t, "refused app", refused.app.Events(), "503")
	select {
	case n := <-drained:
		t.Fatalf("Drain returned %d with a call up", n)
	default:
	}
	h.clock.Advance(4 * time.Second)
	tc.bye(false)
	select {
	case n := <-drained:
		if n != 0 {
			t.Errorf("Drain left %d calls", n)
		}
	case <-time.After(guard):
		t.Fatal("Drain did not return after the last call ended")
	}
	var answered, refusedCDR int
	for _, c := range h.cdrs.all() {
		switch {
		case c.Disposition == dialtone.Answered && c.HangupBy == dialtone.PartyCaller && c.BilledSeconds == 4:
			answered++
		case c.Disposition == dialtone.Failed && c.SIPCode == 503:
			refusedCDR++
		}
	}
	if answered != 1 || refusedCDR != 1 {
		t.Errorf("CDRs %+v: want the drained call answered and billed 4 s, and the refused one 503", h.cdrs.all())
	}
	h.noTasks()
}

// HangupAll ends calls in every phase and returns only when every
// goroutine and timer of theirs has.
func TestHangupAll(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	up, upCarrier := answer(t, h)
	ringing := h.dial("442079460019", "PCMA")
	ringingCarrier := h.legs.next(t)
	ringingCarrier.respond(180, "Ringing", "")
	ringing.app.saw(t, "180")
	h.router.block, h.router.waits = make(chan struct{}), make(chan struct{}) // the next call waits in its routing
	routing := h.dial("442079460020", "PCMA")
	wait(t, h.router.waits, "the third call's routing")

	h.clock.Advance(7 * time.Second)
	h.s.HangupAll()
	if n := h.s.tasks.count(); n != 0 {
		t.Errorf("%d goroutines or timers of the Server still running after HangupAll", n)
	}

	// Nothing of theirs is left: the setups have returned, no timer waits.
	for _, tc := range []*testCall{up, ringing, routing} {
		select {
		case <-tc.done:
		default:
			t.Errorf("a call's setup still runs after HangupAll")
		}
		if s := tc.c.current(); s != stateEnded {
			t.Errorf("state after HangupAll = %s, want ended", s)
		}
	}
	h.noTasks()
	if n := h.clock.pending(); n != 0 {
		t.Errorf("%d timers pending after HangupAll", n)
	}
	checkEvents(t, "connected app", up.app.Events(), "180", "200", "BYE")
	checkEvents(t, "connected carrier", upCarrier.Events(), "ACK", "BYE")
	checkEvents(t, "ringing app", ringing.app.Events(), "180", "503")
	checkEvents(t, "ringing carrier", ringingCarrier.Events(), "CANCEL")
	checkEvents(t, "routing app", routing.app.Events(), "503")
	cdrs := h.cdrs.all()
	if len(cdrs) != 3 {
		t.Fatalf("%d CDRs, want 3", len(cdrs))
	}
	for _, c := range cdrs {
		switch c.AppCallID {
		case up.app.inv.CallID().Value():
			checkCDR(t, c, dialtone.Answered, 200, dialtone.PartySwitch, 7)
		default:
			checkCDR(t, c, dialtone.Failed, 503, dialtone.PartySwitch, 0)
		}
	}
}

// The switch stops as the carrier answers: the app has its 503, and the
// carrier's answered leg is ACKed and ended; the call never connects.
func TestShutdownDuringDialing(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc := h.dial("442079460018", "PCMA")
	k := h.legs.next(t)
	k.ackHold, k.acking = make(chan struct{}), make(chan struct{})
	k.respond(200, "OK", "carrier-answer")
	wait(t, k.acking, "the ACK to the carrier's 200")
	stopped := make(chan struct{})
	go func() { h.s.HangupAll(); close(stopped) }()
	tc.reach(stateEnding) // HangupAll refused the app while we ACK
	close(k.ackHold)
	wait(t, stopped, "HangupAll")
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "503")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	c := h.cdr()
	checkCDR(t, c, dialtone.Failed, 503, dialtone.PartySwitch, 0)
	if !c.AnswerAt.IsZero() {
		t.Errorf("CDR answered at %v, want never", c.AnswerAt)
	}
	if strings.Contains(h.logs.String(), "transition=answered") || !strings.Contains(h.logs.String(), "carrier answered after the call ended") {
		t.Error("the call moved to connected after the switch stopped, or the log does not say why the carrier's leg was ended")
	}
	h.noTasks()
}

// reinvite sends an in-dialog re-INVITE through the Server.
func (tc *testCall) reinvite(fromCarrier bool, body string) *fakeTx {
	req := tc.inDialog(sip.INVITE, fromCarrier)
	req.SetBody([]byte(body))
	tx := newFakeTx()
	tc.h.s.HandleInvite(&dialtone.Account{ID: 7, Username: "alice"}, req, tx)
	return tx
}

func TestReinvite(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, _ := answer(t, h)
	tx := tc.reinvite(false, "new-app-offer")
	if got := tx.codes(); len(got) != 1 || got[0] != 200 || string(tx.responses[0].Body()) != "app-answer" {
		t.Errorf("app's re-INVITE answered %v, want 200 with our SDP", got)
	}
	tx = tc.reinvite(true, "carrier-refresh")
	if got := tx.codes(); len(got) != 1 || got[0] != 200 || string(tx.responses[0].Body()) != "carrier-offer" {
		t.Errorf("carrier's re-INVITE answered %v, want 200 with the SDP we offered it", got)
	}
	if s := tc.c.current(); s != stateConnected {
		t.Errorf("state after re-INVITEs = %s, want connected", s)
	}
	tc.bye(false)
	tc.ended()
	if got := tc.reinvite(false, "late").codes(); len(got) != 1 || got[0] != 481 {
		t.Errorf("re-INVITE after the end answered %v, want 481", got)
	}
	h.noTasks()
}

// The app's BYE arrives while its re-INVITE is being applied: the
// re-INVITE completes on a live bridge, then the call ends and closes it.
func TestByeDuringReinvite(t *testing.T) {
	h := newHarness(t, nil, trunk("t1"))
	tc, k := answer(t, h)
	b := h.media.last()
	b.hold = make(chan struct{})
	reinvited := make(chan *fakeTx)
	go func() { reinvited <- tc.reinvite(false, "moved") }()
	wait(t, b.updating, "the re-INVITE to reach the bridge")
	byed := make(chan *fakeTx)
	go func() { byed <- tc.bye(false) }()
	tc.reach(stateEnding)
	select {
	case <-b.closed:
		t.Fatal("bridge closed under a re-INVITE")
	default:
	}
	close(b.hold)
	var rtx, btx *fakeTx
	for rtx == nil || btx == nil {
		select {
		case rtx = <-reinvited:
		case btx = <-byed:
		case <-time.After(guard):
			t.Fatal("re-INVITE or BYE not answered")
		}
	}
	tc.ended()
	if got := rtx.codes(); len(got) != 1 || got[0] != 200 {
		t.Errorf("re-INVITE answered %v, want 200", got)
	}
	if got := btx.codes(); len(got) != 1 || got[0] != 200 {
		t.Errorf("BYE answered %v, want 200", got)
	}
	checkEvents(t, "bridge", b.Events(), "carrier-sdp:carrier-answer", "start", "update-app", "close")
	checkEvents(t, "carrier", k.Events(), "ACK", "BYE")
	checkCDR(t, h.cdr(), dialtone.Answered, 200, dialtone.PartyCaller, 0)
	h.noTasks()
}

// Every transition is checked against the state it starts from: an
// illegal one changes nothing and is returned and logged.
func TestTransitions(t *testing.T) {
	h := newHarness(t, nil)
	c := &call{s: h.s, log: h.s.log, changed: make(chan struct{})}
	for t0 := range transitions {
		tr := transition(t0)
		for s := stateRouting; s <= stateEnded; s++ {
			c.state = s
			err := c.to(tr, nil)
			legal := slices.Contains(transitions[tr].from, s)
			switch {
			case legal && err != nil:
				t.Errorf("%s from %s refused: %v", tr, s, err)
			case legal && c.state != transitions[tr].to:
				t.Errorf("%s from %s led to %s, want %s", tr, s, c.state, transitions[tr].to)
			case !legal && err == nil:
				t.Errorf("%s from %s allowed, want refused", tr, s)
			case !legal && c.state != s:
				t.Errorf("refused %s moved the call from %s to %s", tr, s, c.state)
			}
			var te *errTransition
			if !legal && !errors.As(err, &te) {
				t.Errorf("%s from %s: error %v, want an errTransition", tr, s, err)
			}
		}
	}
	// Nothing leaves ended; nothing goes back to routing.
	for t0 := range transitions {
		if slices.Contains(transitions[t0].from, stateEnded) || transitions[t0].to == stateRouting {
			t.Errorf("%s leaves ended or enters routing", transition(t0))
		}
	}
	if !strings.Contains(h.logs.String(), "transition refused") {
		t.Error("refused transitions are not logged")
	}
}

// A call over its account's limits is refused with 403 and a Warning
// naming the limit, before its credit is authorized or a carrier is tried.
func TestLimitRefused(t *testing.T) {
	h := newHarness(t, &fakeCredit{refuse: errors.New("authorized a call over its limits")}, trunk("t1"))
	h.s.cfg.Limits = &fakeLimits{refuse: &dialtone.LimitError{Limit: dialtone.LimitCountry, Detail: "GB is not among US"}}
	tc := h.dial("442079460018", "PCMA")
	tc.setupDone()
	tc.ended()
	checkEvents(t, "app", tc.app.Events(), "403")
	tc.app.mu.Lock()
	res := tc.app.rejected
	tc.app.mu.Unlock()
	if w := res.GetHeader("Warning"); w == nil || w.Value() != `399 switch.test "country: GB is not among US"` || !strings.Contains(res.Reason, "country") {
		t.Errorf("refusal %d %q, Warning %v; want the country limit named", res.StatusCode, res.Reason, w)
	}
	c := h.cdr()
	checkCDR(t, c, dialtone.Failed, 403, dialtone.PartyNone, 0)
	if !strings.Contains(c.SIPReason, "country") {
		t.Errorf("CDR reason %q, want the limit named", c.SIPReason)
	}
	if len(h.legs.carriers) != 0 {
		t.Error("a call over its limits reached a carrier")
	}
	h.noTasks()
}

// A call keeps its place in its account's limits until it ends, however
// it ends: hung up, refused by the carrier, refused for credit.
func TestLimitReleased(t *testing.T) {
	lim := &fakeLimits{max: 1}
	credit := &fakeCredit{max: time.Hour}
	h := newHarness(t, credit, trunk("t1"))
	h.s.cfg.Limits = lim
	first, _ := answer(t, h)

	second := h.dial("442079460018", "PCMA")
	second.setupDone()
	second.ended()
	checkEvents(t, "app", second.app.Events(), "403")

	first.bye(false)
	first.ended()
	if live, released := lim.counts(); live != 0 || released != 1 {
		t.Fatalf("after the hang-up: %d live, %d released; want 0 and 1", live, released)
	}

	busy := h.dial("442079460018", "PCMA")
	h.legs.next(t).respond(486, "Busy Here", "")
	busy.setupDone()
	busy.ended()
	checkEvents(t, "app", busy.app.Events(), "486")
	if live, released := lim.counts(); live != 0 || released != 2 {
		t.Errorf("after a busy carrier: %d live, %d released; want 0 and 2", live, released)
	}

	credit.refuse = dialtone.ErrInsufficientFunds
	broke := h.dial("442079460018", "PCMA")
	broke.setupDone()
	broke.ended()
	checkEvents(t, "app", broke.app.Events(), "402")
	if live, released := lim.counts(); live != 0 || released != 3 {
		t.Errorf("after a credit refusal: %d live, %d released; want 0 and 3", live, released)
	}
	h.noTasks()
}
