package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWalletHistoryCall: after a real call, the wallet's history shows it
// as one line (the number, the duration, the charge), its credit
// reservations folded in; balances read in the one money format.
func TestWalletHistoryCall(t *testing.T) {
	carrierPort := freePort(t)
	sw := billedSwitch(t, "sqlite", carrierPort, "")
	sw.billedAccount("alice", "1")
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	// 3 s at 2 s intervals: at least two reservations.
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 3000, end: "bye"}, "+442079460018", 1, 1).Wait(30 * time.Second); st.Successful != 1 {
		t.Fatal("the call did not complete")
	}
	uas.Wait(10 * time.Second)
	sw.CDRs(1)
	out := sw.CLI("wallet", "history", "alice")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("wallet history: %d lines, want a header, the call and the top-up:\n%s", len(lines), out)
	}
	call := regexp.MustCompile(`\scall\s+-0\.11 USD\s+0\.89 USD\s+call to \+442079460018: 0:0[34], billed 30 s$`)
	if !call.MatchString(lines[1]) || !regexp.MustCompile(`\stopup\s+1\.00 USD\s+1\.00 USD\s`).MatchString(lines[2]) {
		t.Errorf("wallet history:\n%s\nwant the call as one line of -0.11 USD, then the top-up of 1.00 USD", out)
	}
	if strings.Contains(out, "hold") {
		t.Errorf("wallet history shows the reservations:\n%s", out)
	}
	if out := sw.CLI("wallet", "show", "alice"); !regexp.MustCompile(`balance\s+0\.89 USD\n`).MatchString(out) || !regexp.MustCompile(`on hold\s+0\.00 USD`).MatchString(out) {
		t.Errorf("wallet show:\n%s", out)
	}
	if out := sw.CLI("account", "show", "alice"); !regexp.MustCompile(`balance\s+0\.89 USD\n`).MatchString(out) {
		t.Errorf("account show:\n%s", out)
	}
	if out := sw.CLI("wallet", "topup", "alice", "5", "--key", "second"); !strings.Contains(out, "credited 5.00 USD to alice (key second); balance 5.89 USD") {
		t.Errorf("wallet topup: %s", out)
	}
}
