package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dialtone/dialtone"
)

// Slots is what Shared keeps in the store.
type Slots = dialtone.SlotStore

// SlotTTL is how long a slot of a node that stopped renewing holds at
// most. A node that dies has its slots closed sooner, by the node that
// takes its calls over once its lease lapses; the TTL is the backstop for
// slots no takeover closed (the takeover failing, say). A live node renews
// its open slots every SlotTTL/3.
const SlotTTL = time.Minute

// storeTimeout bounds a release and a renewal.
const storeTimeout = 5 * time.Second

// Shared is Counters kept in a store the nodes share, so that an account
// limited to N calls gets N in total whichever nodes take them. Each
// admitted call is a slot row of this node; the store counts the open
// slots and the recent starts of the account under a lock on the account's
// scope, so concurrent takes on any node see each other.
//
// A node that dies leaves its slots open until another node, taking over
// its calls when its lease lapses, closes them in the same transaction
// (dialtone.LeaseStore.ClaimSessions); the node closes its own at its next
// start (NewShared), and failing both they expire SlotTTL after its last
// renewal.
// Shared also serves the carriers' channels (Take with a carrier scope).
type Shared struct {
	store Slots
	node  string
	now   func() time.Time
	log   *slog.Logger

	done   chan struct{}
	closed sync.Once
	wg     sync.WaitGroup
}

// NewShared closes the slots node left open in its last run (a node
// starting has no call in progress) and starts renewing its slots and
// purging old ones until Close.
func NewShared(ctx context.Context, store Slots, node string, now func() time.Time, log *slog.Logger) (*Shared, error) {
	n, err := store.ReleaseNodeSlots(ctx, node, now())
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	if n > 0 {
		log.Info("closed the call slots left open by the last run", "node", node, "slots", n)
	}
	s := &Shared{store: store, node: node, now: now, log: log, done: make(chan struct{})}
	s.wg.Add(1)
	go s.keep()
	return s, nil
}

// Close stops the renewals. The node's open slots then expire unless the
// node starts again first. Closing twice is harmless.
func (s *Shared) Close() error {
	s.closed.Do(func() { close(s.done) })
	s.wg.Wait()
	return nil
}

// Take implements Counters for an account.
func (s *Shared) Take(ctx context.Context, accountID int64, now time.Time, admit func(calls, recent int) error) (func(), error) {
	return s.TakeScope(ctx, fmt.Sprintf("account:%d", accountID), now, admit)
}

// TakeScope takes a slot of scope when admit allows it (see
// dialtone.SlotStore.TakeSlot); release closes it, once.
func (s *Shared) TakeScope(ctx context.Context, scope string, now time.Time, admit func(open, recent int) error) (release func(), err error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := s.node + "-" + hex.EncodeToString(b[:])
	if err := s.store.TakeSlot(ctx, scope, id, s.node, now, now.Add(SlotTTL), admit); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			defer cancel()
			if err := s.store.ReleaseSlot(ctx, id, s.now()); err != nil {
				s.log.Error("call slot not released; it expires", "scope", scope, "slot", id, "error", err)
			}
		})
	}, nil
}

// keep renews this node's open slots every SlotTTL/3 and forgets, each
// minute, the slots that ended or expired more than two minutes ago.
func (s *Shared) keep() {
	defer s.wg.Done()
	renew := time.NewTicker(SlotTTL / 3)
	defer renew.Stop()
	purge := time.NewTicker(time.Minute)
	defer purge.Stop()
	for {
		select {
		case <-renew.C:
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			if _, err := s.store.RenewSlots(ctx, s.node, s.now().Add(SlotTTL)); err != nil {
				s.log.Error("call slots not renewed", "node", s.node, "error", err)
			}
			cancel()
		case <-purge.C:
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			if _, err := s.store.PurgeSlots(ctx, s.now().Add(-2*time.Minute)); err != nil {
				s.log.Error("call slots not purged", "error", err)
			}
			cancel()
		case <-s.done:
			return
		}
	}
}
