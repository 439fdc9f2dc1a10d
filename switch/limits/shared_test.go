package limits_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
	"github.com/dialtone/dialtone/switch/limits"
)

// TestSharedAcrossNodes: two nodes' counters on one real store admit,
// together, exactly what the limit allows; a node starting again frees
// the slots it held.
func TestSharedAcrossNodes(t *testing.T) {
	for name, open := range storetest.Stores() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			ctx := context.Background()
			now := time.Now
			node := func(name string) *limits.Shared {
				s, err := limits.NewShared(ctx, st, name, now, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			a, b := node("a"), node("b")
			// 20 takes at once, half on each node, against a limit of 2.
			var wg sync.WaitGroup
			var mu sync.Mutex
			var admitted []func()
			for i := range 20 {
				n := a
				if i%2 == 1 {
					n = b
				}
				wg.Go(func() {
					r, err := n.Take(ctx, 42, now(), atMost(2))
					var le *dialtone.LimitError
					switch {
					case err == nil:
						mu.Lock()
						admitted = append(admitted, r)
						mu.Unlock()
					case !errors.As(err, &le):
						t.Errorf("Take() = %v", err)
					}
				})
			}
			wg.Wait()
			if len(admitted) != 2 {
				t.Fatalf("20 takes on two nodes against a limit of 2 admitted %d, want 2", len(admitted))
			}
			admitted[0]()
			admitted[0]() // once only
			r, err := b.Take(ctx, 42, now(), atMost(2))
			if err != nil {
				t.Fatalf("take after a release = %v, want admitted", err)
			}
			if _, err := a.Take(ctx, 42, now(), atMost(2)); err == nil {
				t.Fatal("a third call at once admitted")
			}
			r()
			// Both remaining slots are a's or b's; a node that starts again
			// closes its own: after both restart, the account is free.
			node("a")
			node("b")
			for range 2 {
				if _, err := a.Take(ctx, 42, now(), atMost(2)); err != nil {
					t.Errorf("take after the nodes restarted = %v, want admitted", err)
				}
			}
		})
	}
}
