package guard_test

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/storetest"
	"github.com/dialtone/dialtone/switch/guard"
)

// TestBansAcrossNodes: two guards on one real store, as two nodes: a ban
// made by one is enforced by the other within a few polls, and so is the
// unban.
func TestBansAcrossNodes(t *testing.T) {
	for name, open := range storetest.Stores() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			cfg := guard.Defaults()
			cfg.Failures = 3
			node := func() *guard.Guard {
				g, err := guard.New(cfg, st, nil, slog.New(slog.DiscardHandler), nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { g.Close() })
				return g
			}
			a, b := node(), node()
			src := netip.MustParseAddr("203.0.113.9")
			for range 3 {
				a.AuthFailed(src, "alice", "udp")
			}
			if !a.Banned(src) {
				t.Fatal("3 failures did not ban the source on the node that saw them")
			}
			eventually(t, func() bool { return b.Banned(src) }, "the other node enforces the ban")
			if !a.Unban(src) {
				t.Fatal("Unban() = false, want the ban lifted")
			}
			eventually(t, func() bool { return !b.Banned(src) }, "the other node lifts the ban")
			// Lifted, the source is banned afresh by new failures there.
			for range 3 {
				b.AuthFailed(src, "alice", "udp")
			}
			eventually(t, func() bool { return a.Banned(src) }, "the first node enforces the new ban")
		})
	}
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not seen within 15 s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
