package e2e

import (
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// TestCancelCrossesAnswer: the carrier answers 200 although the switch has
// sent it CANCEL (for the app's CANCEL, or at the ring timeout). The
// switch ACKs that 200 and ends the carrier's leg with BYE at once (the
// carrier's scenario fails without both), and the CDR says the call was
// not answered: nothing billed, and the attempt shows the crossed 200.
func TestCancelCrossesAnswer(t *testing.T) {
	for _, tt := range []struct {
		name, answer, appEnd, ringTimeout string
		disposition                       dialtone.Disposition
		code                              int
		hangup                            dialtone.Party
		attempt                           string
	}{
		{"app cancels, 200 after the CANCEL's 200", "cross", "cancel", "", dialtone.Cancelled, 487, dialtone.PartyCaller, "carrier1=200:cancelled"},
		{"app cancels, 200 before the CANCEL's 200", "cross-first", "cancel", "", dialtone.Cancelled, 487, dialtone.PartyCaller, "carrier1=200:cancelled"},
		{"app cancels, 200 and 481 to the CANCEL", "cross-481", "cancel", "", dialtone.Cancelled, 487, dialtone.PartyCaller, "carrier1=200:cancelled"},
		{"ring timeout", "cross", "480", "1s", dialtone.NoAnswer, 480, dialtone.PartyNone, "carrier1=200:ring-timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			carrierPort := freePort(t)
			sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
			if tt.ringTimeout != "" {
				setSIP(t, sw, "ring_timeout", tt.ringTimeout)
			}
			sw.Account("alice", "secret")
			uas := runCarrier(t, carrier{answer: tt.answer, rtpPort: 40000}, carrierPort, 1)
			app := dialApp(t, sw, appCall{user: "alice", password: "secret", end: tt.appEnd}, "+442079460018", 1, 1)
			mustPass(t, "app", app, 20*time.Second)
			mustPass(t, "carrier (its 200 must get ACK, then BYE)", uas, 10*time.Second)
			c := oneCDR(t, sw, tt.disposition, tt.code, tt.hangup)
			if !c.AnswerAt.IsZero() || c.BilledSeconds != 0 || !c.Price.IsZero() || c.Duration != 0 {
				t.Errorf("CDR answered at %v for %v, billed %d s at %s; want never answered, nothing billed", c.AnswerAt, c.Duration, c.BilledSeconds, c.Price)
			}
			if c.Attempts != tt.attempt {
				t.Errorf("CDR attempts %q, want %q", c.Attempts, tt.attempt)
			}
			waitIdle(t, sw)
		})
	}
}
