package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
)

// clusterNumber is a UK mobile number of the retail deck: 0.60 a minute
// billed by the second, so every second a call is charged shows.
const clusterNumber = "+447400123456"

// TestCluster is the deployment README.md describes in "Running several
// nodes behind Kamailio": the repository's Kamailio configuration in
// front of three switch nodes on three loopback addresses, all on one
// PostgreSQL database, with the shipped lease timings (heartbeat 3 s,
// lapse 15 s) and no unbilled calls.
//
//   - 300 authenticated calls through the front are spread over all three
//     nodes, each answered, billed and recorded once;
//   - an account allowed 2 calls at once places 9 at once through the
//     front: 2 reach the carrier, whichever nodes the 9 landed on;
//   - a chat message posted on one node reaches live clients on the others;
//   - a device registered through the front is listed, with the node that
//     holds it, from every node;
//   - one node is killed (kill -9) with calls up: new calls keep
//     succeeding on the others, another node settles the dead node's calls
//     within a minute, one CDR each, charged to its last heartbeat, and the
//     ledger check passes; the dead node, started again, settles nothing
//     twice.
//
// `make test-cluster` runs this test alone.
func TestCluster(t *testing.T) {
	needTool(t, "kamailio", "kamailio")
	needTool(t, "kamcmd", "kamailio")
	storeURL := storetest.PostgresURL(t)
	carrierPort := freePort(t)
	var nodes []*Switch
	for i, name := range []string{"node-a", "node-b", "node-c"} {
		o := carrierAt("127.0.0.5", carrierPort) // the apps' 127.0.0.3 is no trunk's
		o.StoreURL, o.Node, o.IP = storeURL, name, fmt.Sprintf("127.0.0.%d", 11+i)
		o.BuyPlan = "carrier-buy"
		o.Billing = "unbilled: refuse, heartbeat: 3s, lease_lapse: 15s" // the lease timings are the defaults, named
		o.SIPExtra = fmt.Sprintf("trusted_proxies: [%s]\n  auth_secret: cluster-e2e-nonce-secret", frontIP)
		nodes = append(nodes, startSwitch(t, o))
		if i == 0 { // the decks, before any other node could cache their absence
			importDecks(t, nodes[0])
		}
	}
	a := nodes[0]
	a.billedAccount("alice", "100.00")
	a.billedAccount("bob", "0")
	a.billedAccount("carol", "10.00")
	k := startKamailio(t, 1, nodes...)
	want := map[int]string{}
	for _, n := range nodes {
		want[n.SIPPort] = "AP"
	}
	k.waitNodes(want)
	attempts := func() []float64 {
		var out []float64
		for _, n := range nodes {
			out = append(out, n.Metric("dialtone_call_attempts_total"))
		}
		return out
	}
	app := func(user string, holdMS int) string {
		return appCall{user: user, password: "secret", holdMS: holdMS, end: "bye"}.scenario()
	}
	carrierSipp := func(calls int) *Sipp {
		s := startSipp(t, carrier{answer: "200", rtpPort: freePort(t)}.scenario(), "-i", "127.0.0.5", "-p", strconv.Itoa(carrierPort), "-m", strconv.Itoa(calls))
		time.Sleep(200 * time.Millisecond) // let it bind
		return s
	}

	t.Run("300 calls over all nodes", func(t *testing.T) {
		const calls = 300
		uas := carrierSipp(calls)
		uac := k.dial(t, app("alice", 300), "127.0.0.3", clusterNumber, "many-%u@e2e", calls, 20)
		if st := uac.Wait(3 * time.Minute); st.Successful != calls {
			t.Fatalf("calls through the front: %d of %d successful\n%s", st.Successful, calls, uac.Errors())
		}
		if st := uas.Wait(30 * time.Second); st.Successful != calls {
			t.Errorf("carrier: %d of %d calls successful\n%s", st.Successful, calls, uas.Errors())
		}
		per, sum := attempts(), 0.0
		for i, n := range per {
			sum += n
			if n < 1 {
				t.Errorf("node %d took no call", i)
			}
		}
		t.Logf("calls per node: %v", per)
		if sum != calls {
			t.Errorf("calls over the nodes = %v, want %d", sum, calls)
		}
		cdrs := a.CDRs(calls)
		seen := map[string]bool{}
		charged := decimal.Zero
		for _, c := range cdrs {
			if seen[c.AppCallID] {
				t.Errorf("two CDRs for the call %s", c.AppCallID)
			}
			seen[c.AppCallID] = true
			charged = charged.Add(c.Price)
			if c.Disposition != dialtone.Answered || c.Price.Sign() <= 0 || c.HangupBy != dialtone.PartyCaller {
				t.Errorf("CDR %s: %s, price %s, hung up by %s; want answered, charged, the caller's BYE", c.AppCallID, c.Disposition, c.Price, c.HangupBy)
			}
		}
		if len(cdrs) != calls {
			t.Errorf("%d CDRs, want %d", len(cdrs), calls)
		}
		if w := a.wallet("alice"); !w.Equal(dec("100").Sub(charged)) {
			t.Errorf("alice's wallet = %s, want 100 - %s charged over the CDRs", w, charged)
		}
	})

	t.Run("account limit across nodes", func(t *testing.T) {
		carol, err := a.Store().AccountByUsername(context.Background(), "carol")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Store().SetAccountLimits(context.Background(), carol.ID, dialtone.Limits{Concurrent: 2}); err != nil {
			t.Fatal(err)
		}
		const calls = 9
		before := attempts()
		uas := carrierSipp(calls)
		uac := k.dial(t, limitedCall("carol", 3000, dialtone.LimitConcurrent), "127.0.0.3", clusterNumber, "carol-%u@e2e", calls, calls)
		if st := uac.Wait(time.Minute); !st.ExitOK || st.Successful != calls {
			t.Errorf("%d of %d calls went as expected (answered, or 403 naming concurrent_calls)\n%s", st.Successful, calls, uac.Errors())
		}
		if got := uas.Stop().Created; got != 2 {
			t.Errorf("the carrier saw %d calls of an account limited to 2 at once, want 2", got)
		}
		took, refused := 0, 0.0
		for i, n := range attempts() {
			if n > before[i] {
				took++
			}
			refused += nodes[i].Metric(`dialtone_calls_refused_total{reason="concurrent_calls"}`)
		}
		if took < 2 {
			t.Errorf("carol's %d calls landed on %d node, want them spread over several", calls, took)
		}
		if refused != calls-2 {
			t.Errorf("calls refused for concurrent_calls over the nodes = %v, want %d", refused, calls-2)
		}
	})

	t.Run("chat across nodes", func(t *testing.T) {
		alice, bob := signIn(t, a, "alice", "secret"), signIn(t, nodes[1], "bob", "secret")
		onB, onC := liveSocket(t, nodes[1], bob), liveSocket(t, nodes[2], bob)
		code, conv := apiCall(t, a, "POST", "/api/v1/conversations", alice, map[string]any{"kind": "direct", "members": []string{"bob"}})
		if code != 201 {
			t.Fatalf("create conversation = %d %v", code, conv)
		}
		time.Sleep(100 * time.Millisecond) // the live sockets are registered right after their handshakes
		path := fmt.Sprintf("/api/v1/conversations/%v/messages", conv["id"])
		if code, out := apiCall(t, a, "POST", path, alice, map[string]any{"kind": "text", "body": map[string]string{"text": "posted on node-a"}}); code != 201 {
			t.Fatalf("post on node-a = %d %v", code, out)
		}
		for name, ws := range map[string]*websocket.Conn{"node-b": onB, "node-c": onC} {
			if sender, text, raw := nextMessage(t, ws); sender != "alice" || text != "posted on node-a" {
				t.Errorf("bob on %s got %s, want alice's message", name, raw)
			}
		}
	})

	t.Run("registration seen from every node", func(t *testing.T) {
		if code := registerVia(t, fmt.Sprintf("%s:%d", frontIP, k.SIPPort), "127.0.0.7", "alice", "secret"); code != 200 {
			t.Fatalf("REGISTER through the front = %d, want 200", code)
		}
		holder := ""
		for _, n := range nodes {
			if n.Metric("dialtone_registrations") == 1 {
				holder = n.node
			}
		}
		if holder == "" {
			t.Fatal("no node holds the registration")
		}
		// The holder writes the binding to the store in the background.
		for _, n := range nodes {
			deadline := time.Now().Add(10 * time.Second)
			for {
				out := n.CLI("registrations", "alice")
				if strings.Contains(out, "127.0.0.7:") && strings.Contains(out, holder) {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("dialtone registrations alice on %s:\n%s\nwant the device at 127.0.0.7 held by %s", n.node, out, holder)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	})

	t.Run("node killed with calls up", func(t *testing.T) {
		const long, later = 12, 30
		uas := carrierSipp(long + later)
		// 12 calls of 20 s, then find the node with the most of them.
		longs := k.dial(t, app("alice", 20000), "127.0.0.3", clusterNumber, "long-%u@e2e", long, long)
		active := func() (sum float64, most int, up []float64) {
			for i, n := range nodes {
				c := n.Metric("dialtone_calls_active")
				up = append(up, c)
				sum += c
				if c > up[most] {
					most = i
				}
			}
			return sum, most, up
		}
		waitFor(t, 20*time.Second, func() bool { s, _, _ := active(); return s == long })
		time.Sleep(6 * time.Second) // 6 s charged on each, to the dead node's last heartbeat
		_, most, up := active()
		victim, lost := nodes[most], int(up[most])
		t.Logf("calls up per node %v: killing %s with %d", up, victim.node, lost)
		var survivors []*Switch
		for _, n := range nodes {
			if n != victim {
				survivors = append(survivors, n)
			}
		}
		before := 0.0
		for _, n := range survivors {
			before += n.Metric("dialtone_call_attempts_total")
		}
		victim.Kill()
		killed := time.Now()

		// New calls keep succeeding, on the other nodes.
		more := k.dial(t, app("alice", 300), "127.0.0.3", clusterNumber, "later-%u@e2e", later, 10)
		if st := more.Wait(time.Minute); st.Successful != later {
			t.Errorf("new calls after the kill: %d of %d successful\n%s", st.Successful, later, more.Errors())
		}
		after := 0.0
		for _, n := range survivors {
			after += n.Metric("dialtone_call_attempts_total")
		}
		if after-before != later {
			t.Errorf("the live nodes took %v of the %d new calls, want all", after-before, later)
		}

		// The dead node's calls are settled by another within a minute,
		// one CDR each, charged from their answers to its last heartbeat.
		reason := "node " + victim.node + " died"
		var settled []*dialtone.CDR
		waitFor(t, time.Minute, func() bool {
			settled = settled[:0]
			for _, c := range survivors[0].CDRs(0) {
				if strings.HasPrefix(c.AppCallID, "long-") && strings.Contains(c.SIPReason, reason) {
					settled = append(settled, c)
				}
			}
			return len(settled) == lost
		})
		t.Logf("%d calls of %s settled %v after the kill", len(settled), victim.node, time.Since(killed).Round(time.Second))
		for _, c := range settled {
			if c.Disposition != dialtone.Answered || c.HangupBy != dialtone.PartySwitch || c.BilledSeconds < 2 || c.BilledSeconds > 10 ||
				!c.Price.Equal(dec("0.01").Mul(decimal.NewFromInt(c.BilledSeconds))) {
				t.Errorf("settled CDR %s: %s by %s, billed %d s, price %s; want answered, by the switch, 2-10 s at 0.01/s",
					c.AppCallID, c.Disposition, c.HangupBy, c.BilledSeconds, c.Price)
			}
		}
		// The calls on the live nodes end with the app's BYE at 20 s.
		st := longs.Wait(time.Minute)
		if st.Successful != long-lost {
			t.Errorf("long calls: %d successful, want the %d on the live nodes", st.Successful, long-lost)
		}
		uas.Stop()
		longCDRs := func() int {
			n := 0
			for _, c := range survivors[0].CDRs(0) {
				if strings.HasPrefix(c.AppCallID, "long-") {
					n++
				}
			}
			return n
		}
		waitFor(t, 15*time.Second, func() bool { return longCDRs() == long })
		if out := survivors[0].CLI("ledger", "check"); !strings.Contains(out, "ok") {
			t.Errorf("ledger check: %s", out)
		}

		// Started again, the dead node settles nothing twice.
		victim.Start()
		time.Sleep(4 * time.Second) // a heartbeat and a sweep of every node
		if n := longCDRs(); n != long {
			t.Errorf("%d CDRs of the long calls after %s came back, want still %d", n, victim.node, long)
		}
		if out := survivors[0].CLI("ledger", "check"); !strings.Contains(out, "ok") {
			t.Errorf("ledger check after the node came back: %s", out)
		}
	})
}
