package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/limits"
)

// Credit is reserved a minute at a time, so a call killed 8 s in has
// nothing newer than its answer in the store but its node's heartbeat.
const leaseBilling = "interval: 60s, credit_lead: 5s, rates_cache_ttl: 0s, heartbeat: 1s, lease_lapse: 3s"

// leaseSwitch is a switch with the retail plan and the carrier's buy deck
// (imported when it has a store of its own), billing as leaseBilling
// unless o says otherwise.
func leaseSwitch(t *testing.T, o Options) *Switch {
	t.Helper()
	o.BuyPlan = "carrier-buy"
	if o.Billing == "" {
		o.Billing = leaseBilling
	}
	sw := startSwitch(t, o)
	if o.StoreURL == "" {
		importDecks(t, sw)
	}
	return sw
}

// threeCallsKilled puts three answered calls of alice (5.00 in her wallet)
// through sw, holds them 8 s and kills sw (kill -9).
func threeCallsKilled(t *testing.T, sw *Switch, carrierPort int) {
	t.Helper()
	sw.billedAccount("alice", "5.00")
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 3)
	app := dialApp(t, sw, appCall{user: "alice", password: "secret", end: "wait-bye"}, "+447400123456", 3, 10)
	sw.waitActive(3, 15*time.Second)
	if n := sw.Metric("dialtone_calls_active"); n != 3 {
		t.Fatalf("%v calls up, want 3", n)
	}
	time.Sleep(8 * time.Second)
	sw.Kill()
	app.Stop()
	uas.Stop()
	if sw.store != nil {
		sw.store.Close()
		sw.store = nil
	}
}

// checkLeftCalls checks the three CDRs of calls whose node died: each
// charged from its answer to the node's last heartbeat (1 s apart), lo to
// hi seconds, at 0.01 a second, and the wallet and ledger agree.
func checkLeftCalls(t *testing.T, sw *Switch, cdrs []*dialtone.CDR, reason string, lo, hi int64) {
	t.Helper()
	if len(cdrs) != 3 {
		t.Fatalf("%d CDRs, want 3", len(cdrs))
	}
	total := decimal.Zero
	for _, c := range cdrs {
		total = total.Add(c.Price)
		if c.Disposition != dialtone.Answered || c.HangupBy != dialtone.PartySwitch || c.BilledSeconds < lo || c.BilledSeconds > hi ||
			!c.Price.Equal(dec("0.01").Mul(decimal.NewFromInt(c.BilledSeconds))) || !strings.Contains(c.SIPReason, reason) {
			t.Errorf("CDR = %s by %s, %v, billed %d, price %s, %q; want answered, by the switch, %d-%d s at 0.01/s, %q",
				c.Disposition, c.HangupBy, c.Duration, c.BilledSeconds, c.Price, c.SIPReason, lo, hi, reason)
		}
	}
	if w := sw.wallet("alice"); !w.Equal(dec("5").Sub(total)) {
		t.Errorf("wallet = %s, want 5 - %s charged", w, total)
	}
	if out := sw.CLI("ledger", "check"); !strings.Contains(out, "ok") {
		t.Errorf("ledger check: %s", out)
	}
}

// TestDeadNodeSettledBySurvivor: two switch nodes on one PostgreSQL; node
// a is killed 8 s into three answered calls; node b, once a's lease has
// lapsed, settles them: three CDRs, each charged from its answer to a's
// last heartbeat. Node a, started again, settles nothing more.
func TestDeadNodeSettledBySurvivor(t *testing.T) {
	carrierPort := freePort(t)
	a := leaseSwitch(t, Options{Store: "postgres", Trunks: []int{carrierPort}, Node: "a"})
	b := leaseSwitch(t, Options{Store: "postgres", StoreURL: a.storeURL, Trunks: []int{carrierPort}, Node: "b"})
	threeCallsKilled(t, a, carrierPort)
	cdrs := b.CDRs(3) // lapse 3 s + a sweep each 1 s: well within CDRs' wait
	checkLeftCalls(t, b, cdrs, "node a died", 6, 10)
	if n := b.Metric("dialtone_lease_settled_calls_total"); n != 3 {
		t.Errorf("dialtone_lease_settled_calls_total on b = %v, want 3", n)
	}
	if n := b.Metric("dialtone_lease_claims_total"); n != 1 {
		t.Errorf("dialtone_lease_claims_total on b = %v, want 1", n)
	}
	a.Start()                           // a settles what it left before it is ready
	time.Sleep(1500 * time.Millisecond) // and a heartbeat and a sweep of each node
	if n := len(a.CDRs(0)); n != 3 {
		t.Errorf("%d CDRs after a started again, want still 3", n)
	}
}

// TestRestartChargesToLastHeartbeat: one node on SQLite, killed 8 s into
// three answered calls and started again, charges each up to its last
// heartbeat before the kill (not just the first second).
func TestRestartChargesToLastHeartbeat(t *testing.T) {
	carrierPort := freePort(t)
	sw := leaseSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	threeCallsKilled(t, sw, carrierPort)
	if cdrs := sw.CDRs(0); len(cdrs) != 0 {
		t.Fatalf("%d CDRs before the restart, want none (the calls were up)", len(cdrs))
	}
	sw.Start()
	checkLeftCalls(t, sw, sw.CDRs(3), "after a restart", 6, 10)
	sw.Stop()
	sw.Start()
	if n := len(sw.CDRs(0)); n != 3 {
		t.Errorf("%d CDRs after a second restart, want still 3", n)
	}
}

// TestStalledNodeGivesUpItsCalls: node a is stopped (SIGSTOP) with three
// calls up for longer than its lease lapse; node b settles them. Resumed,
// a finds them taken over at its next heartbeat: it hangs them up at once,
// BYE to both legs, though their credit (a minute reserved) would last
// nearly a minute more, and charges nothing and writes no CDR again.
func TestStalledNodeGivesUpItsCalls(t *testing.T) {
	carrierPort := freePort(t)
	o := Options{Store: "postgres", Trunks: []int{carrierPort}, Node: "a"} // leaseBilling: a minute's credit at a time
	a := leaseSwitch(t, o)
	o.Node, o.StoreURL = "b", a.storeURL
	b := leaseSwitch(t, o)
	a.billedAccount("alice", "5.00")
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 3)
	app := dialApp(t, a, appCall{user: "alice", password: "secret", end: "wait-bye"}, "+447400123456", 3, 10)
	a.waitActive(3, 15*time.Second)
	time.Sleep(3 * time.Second)
	proc := a.cmd.Process
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = proc.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	cdrs := b.CDRs(3)
	resume()
	resumedAt := time.Now()
	if len(cdrs) != 3 {
		t.Fatalf("%d CDRs written by b while a was stopped, want 3", len(cdrs))
	}
	// Their credit runs out a minute after the answer, 50 s or so from
	// here: the BYEs must come well before.
	if st := app.Wait(20 * time.Second); st.Successful != 3 {
		t.Errorf("the app's calls: %d ended by the switch's BYE within 20 s of a resuming, want 3\n%s", st.Successful, app.Errors())
	}
	if st := uas.Wait(10 * time.Second); st.Successful != 3 {
		t.Errorf("the carrier's calls: %d ended by the switch's BYE, want 3\n%s", st.Successful, uas.Errors())
	}
	t.Logf("a hung up its lost calls %v after it resumed", time.Since(resumedAt).Round(100*time.Millisecond))
	a.waitActive(0, 10*time.Second)
	// Charged to a's last sign of life before the stop, ~3 s in, not to
	// when a hung the calls up.
	checkLeftCalls(t, b, b.CDRs(0), "node a died", 2, 5)
	log, _ := os.ReadFile(filepath.Join(a.dir, "switch.log"))
	if n := strings.Count(string(log), "another switch node took it over: not settled again"); n != 3 {
		t.Errorf("a logged %d calls ended without settling, want 3", n)
	}
	if n := strings.Count(string(log), "another switch node took the call over: hanging up"); n != 3 {
		t.Errorf("a logged %d calls hung up as taken over, want 3", n)
	}
	if n := len(b.CDRs(0)); n != 3 {
		t.Errorf("%d CDRs in all, want 3 (one per call)", n)
	}
}

// TestDeadNodeFreesItsSlots: two nodes on PostgreSQL; alice is limited to
// 2 calls at once and the only carrier to 2 channels. Node a is killed
// with alice's 2 calls up; as soon as b has settled them (a's lease lapses
// in 3 s), a call of alice through b gets through: the takeover freed her
// slots and the carrier's channels, which would otherwise hold until
// their own expiry a minute after a's last renewal.
func TestDeadNodeFreesItsSlots(t *testing.T) {
	carrierPort := freePort(t)
	o := Options{Store: "postgres", Trunks: []int{carrierPort}, Node: "a", TrunkExtra: map[int]string{0: "max_channels: 2"}}
	a := leaseSwitch(t, o)
	o.Node, o.StoreURL = "b", a.storeURL
	b := leaseSwitch(t, o)
	a.billedAccount("alice", "5.00")
	ctx := context.Background()
	alice, err := b.Store().AccountByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Store().SetAccountLimits(ctx, alice.ID, dialtone.Limits{Concurrent: 2}); err != nil {
		t.Fatal(err)
	}
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 2)
	app := dialApp(t, a, appCall{user: "alice", password: "secret", end: "wait-bye"}, "+447400123456", 2, 10)
	waitFor(t, 15*time.Second, func() bool { return a.Metric("dialtone_calls_active") == 2 })
	time.Sleep(2 * time.Second)
	a.Kill()
	killed := time.Now()
	app.Stop()
	uas.Stop()

	if cdrs := b.CDRs(2); len(cdrs) != 2 {
		t.Fatalf("%d CDRs written by b after a died, want 2", len(cdrs))
	}
	uas = runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	st := dialApp(t, b, appCall{user: "alice", password: "secret", holdMS: 500, end: "bye"}, "+447400123456", 1, 1).Wait(20 * time.Second)
	if since := time.Since(killed); since >= limits.SlotTTL {
		t.Fatalf("the new call came %v after the kill, past the slots' own expiry: it proves nothing", since)
	}
	if st.Successful != 1 {
		var refused []string
		for _, c := range b.CDRs(3) {
			if c.Disposition != dialtone.Answered {
				refused = append(refused, fmt.Sprintf("%d %s, attempts %q", c.SIPCode, c.SIPReason, c.Attempts))
			}
		}
		t.Errorf("a call of alice through b after a's 2 calls were settled: %d answered, want 1 (not answered: %v)", st.Successful, refused)
	}
	uas.Stop()
	if out := b.CLI("ledger", "check"); !strings.Contains(out, "ok") {
		t.Errorf("ledger check: %s", out)
	}
}
