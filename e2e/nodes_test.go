package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// TestNodesShareLimitsAndBans: two switch processes on one PostgreSQL.
// An account limited to 2 calls at once places 2 calls through each node
// at the same time: 2 reach the carrier in total, the other 2 are refused
// naming concurrent_calls. Then a password guesser banned on node A is
// refused on node B within seconds, and the operator's unban on A lets it
// in on B within seconds too. Both nodes list the devices registered on
// either.
func TestNodesShareLimitsAndBans(t *testing.T) {
	needTool(t, "svcrack", "sipvicious")
	carrierPort := freePort(t)
	// The carrier is on an address of its own so that 127.0.0.1, where the
	// apps and svcrack send from, is not allow-listed as a trunk's.
	opts := func(node, url string) Options {
		o := carrierAt("127.0.0.5", carrierPort)
		o.Store, o.StoreURL, o.Node = "postgres", url, node
		o.Extra = "guard: {failures: 5}\n"
		return o
	}
	a := startSwitch(t, opts("node-a", ""))
	b := startSwitch(t, opts("node-b", a.storeURL))
	a.Account("alice", "secret")
	ctx := context.Background()
	alice, err := a.Store().AccountByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store().SetAccountLimits(ctx, alice.ID, dialtone.Limits{Concurrent: 2}); err != nil {
		t.Fatal(err)
	}

	// 4 calls at once, 2 through each node, each held 3 s when answered.
	rx := newReceiver(t)
	uas := startSipp(t, carrier{answer: "200", rtpPort: rx.Port}.scenario(), "-i", "127.0.0.5", "-p", strconv.Itoa(carrierPort), "-m", "4")
	time.Sleep(200 * time.Millisecond) // let it bind
	place := func(sw *Switch) *Sipp {
		return startSipp(t, limitedCall("alice", 3000, dialtone.LimitConcurrent), fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-s", "+442079460018",
			"-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)), "-m", "2", "-r", "2", "-rp", "1000", "-l", "2")
	}
	ua, ub := place(a), place(b)
	for name, s := range map[string]*Sipp{"node-a": ua, "node-b": ub} {
		if st := s.Wait(30 * time.Second); !st.ExitOK || st.Successful != 2 {
			t.Errorf("%s: %d of 2 calls went as expected (answered, or 403 naming concurrent_calls)\n%s", name, st.Successful, s.Errors())
		}
	}
	if got := uas.Stop().Created; got != 2 {
		t.Errorf("the carrier saw %d calls of an account limited to 2 at once across two nodes, want 2", got)
	}
	refused := a.Metric(`dialtone_calls_refused_total{reason="concurrent_calls"}`) + b.Metric(`dialtone_calls_refused_total{reason="concurrent_calls"}`)
	if refused != 2 {
		t.Errorf("calls refused for concurrent_calls on both nodes = %v, want 2", refused)
	}

	// A guesser banned on A is refused on B.
	dict := filepath.Join(t.TempDir(), "passwords.txt")
	var words []string
	for i := range 20 {
		words = append(words, fmt.Sprintf("guess%02d", i))
	}
	if err := os.WriteFile(dict, []byte(strings.Join(words, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runTool(t, "svcrack", "-u", "alice", "-d", dict, "-p", strconv.Itoa(a.SIPPort), "--maximumtime", "3", "127.0.0.1")
	if bans := a.CLI("guard", "bans"); !strings.Contains(bans, "127.0.0.1 ") {
		t.Fatalf("node A's bans =\n%s\nwant 127.0.0.1", bans)
	}
	banned := func(sw *Switch) bool {
		_, body := sw.HTTP("/admin/guard/bans")
		return strings.Contains(body, `"127.0.0.1"`)
	}
	start := time.Now()
	waitFor(t, 10*time.Second, func() bool { return banned(b) })
	t.Logf("node B enforced node A's ban after %v", time.Since(start).Round(100*time.Millisecond))
	app := appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}
	call := func(sw *Switch, timeout string) Stats {
		s := startSipp(t, app.scenario(), fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-s", "+442079460018",
			"-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)), "-m", "1", "-timeout", timeout)
		return s.Wait(30 * time.Second)
	}
	if st := call(b, "2s"); st.Successful != 0 {
		t.Errorf("a call through node B from the address banned on A: %d successful, want none", st.Successful)
	}
	if d := b.sample(`dialtone_guard_requests_dropped_total{transport="udp",why="banned"}`); d == 0 {
		t.Errorf("node B dropped %v datagrams of the banned source, want its INVITE dropped", d)
	}

	// The unban on A lets it in on B.
	if got := a.CLI("guard", "unban", "127.0.0.1"); !strings.Contains(got, "unbanned") {
		t.Fatalf("dialtone guard unban on A = %q, want unbanned", got)
	}
	start = time.Now()
	waitFor(t, 10*time.Second, func() bool { return !banned(b) })
	t.Logf("node B lifted the ban after %v", time.Since(start).Round(100*time.Millisecond))
	uas = startSipp(t, carrier{answer: "200", rtpPort: rx.Port}.scenario(), "-i", "127.0.0.5", "-p", strconv.Itoa(carrierPort), "-m", "1")
	time.Sleep(200 * time.Millisecond)
	if st := call(b, "20s"); st.Successful != 1 {
		t.Errorf("a call through node B after the unban on A: %d successful, want 1", st.Successful)
	}
	uas.Stop()

	// A device registered on B is listed, with its node, from A's configuration.
	if code := udpRegister(t, b, "127.0.0.7", "alice", "secret"); code != 200 {
		t.Fatalf("REGISTER on node B = %d, want 200", code)
	}
	waitFor(t, 5*time.Second, func() bool {
		out := a.CLI("registrations", "alice")
		return strings.Contains(out, "127.0.0.7:") && strings.Contains(out, "node-b")
	})
}

// TestNodesShareCarrierChannels: two switch processes on one PostgreSQL,
// carrier1 limited to 2 channels, carrier2 next. 4 calls at once, 2
// through each node: carrier1 carries 2 in total, the other 2 skip it as
// full and land on carrier2.
func TestNodesShareCarrierChannels(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	opts := Options{Store: "postgres", Trunks: []int{p1, p2}, Routes: "  - {prefix: \"\", trunks: [carrier1, carrier2]}\n",
		TrunkExtra: map[int]string{0: "max_channels: 2"}, Node: "node-a"}
	a := startSwitch(t, opts)
	opts.StoreURL, opts.Node = a.storeURL, "node-b"
	b := startSwitch(t, opts)
	a.Account("alice", "secret")
	rx := newReceiver(t)
	c1 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p1, 4)
	c2 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p2, 4)
	app := appCall{user: "alice", password: "secret", holdMS: 4000, end: "bye"}
	ua, ub := dialApp(t, a, app, "+442079460018", 2, 10), dialApp(t, b, app, "+442079460018", 2, 10)
	for name, s := range map[string]*Sipp{"node-a": ua, "node-b": ub} {
		if st := s.Wait(40 * time.Second); st.Successful != 2 {
			t.Errorf("%s: %d of 2 calls completed\n%s", name, st.Successful, s.Errors())
		}
	}
	c1.Stop()
	c2.Stop()
	byTrunk, skipped := map[string]int{}, 0
	for _, c := range answered(a.CDRs(4)) {
		byTrunk[c.Trunk]++
		if c.Attempts == "carrier1=skipped:full;carrier2=200" {
			skipped++
		}
	}
	if byTrunk["carrier1"] != 2 || byTrunk["carrier2"] != 2 || skipped != 2 {
		t.Errorf("calls per trunk %v, %d skipped carrier1 as full; want carrier1 2, carrier2 2, 2 skipped", byTrunk, skipped)
	}
}
