package guard

import (
	"context"
	"net/netip"
	"slices"
	"sync"

	"github.com/dialtone/dialtone"
)

// Reason is why a source was banned.
type Reason = dialtone.BanReason

const (
	ReasonAuth  Reason = "auth"  // too many authentication failures
	ReasonFlood Reason = "flood" // kept sending over the request rate
)

// Ban is a source refused until Until. A ban that has ended is kept a
// while (until Until plus the longest ban) so that a source coming back
// is banned for longer. Failures counts the authentication failures (auth)
// or the requests over the rate (flood) that led to it.
type Ban = dialtone.Ban

// Store keeps bans across restarts and shares them between nodes; the SQL
// stores implement it. The guard writes to it from one goroutine of its
// own, never on the packet path, and reads it at start and on each sweep.
type Store = dialtone.BanStore

// MemoryStore is a Store in memory: bans last as long as the process.
// Safe for concurrent use.
type MemoryStore struct {
	mu   sync.Mutex
	bans map[netip.Addr]Ban
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{bans: map[netip.Addr]Ban{}} }

func (s *MemoryStore) SaveBan(_ context.Context, b Ban) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bans[b.Addr] = b
	return nil
}

func (s *MemoryStore) DeleteBan(_ context.Context, addr netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bans, addr)
	return nil
}

func (s *MemoryStore) Bans(context.Context) ([]Ban, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ban, 0, len(s.bans))
	for _, b := range s.bans {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Ban) int { return a.Addr.Compare(b.Addr) })
	return out, nil
}
