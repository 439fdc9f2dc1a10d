package digest

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// NonceCounts remembers, for each nonce answered successfully, the highest
// nonce count (nc, RFC 7616 section 3.4) it was used with, so that each
// (nonce, nc) authorizes one request only: a captured Authorization header
// sent again carries an nc that was already used.
//
// Use records nc for nonce and reports ok when nc is higher than every
// count used before with that nonce (any nc is higher than none); a
// repeated or lower count reports ok false and changes nothing. expires
// is when the nonce stops being accepted anyway: the record may be dropped
// after it. An implementation that cannot tell whether a nonce was used
// (it dropped the record before expires) returns an error wrapping
// ErrStale, never ok true.
//
// The memory implementation is MemoryCounts. Nodes that share
// sip.auth_secret accept each other's nonces, so they must share one
// NonceCounts for replays to be refused across them.
type NonceCounts interface {
	Use(ctx context.Context, nonce string, nc uint32, expires time.Time) (ok bool, err error)
}

// DefaultMaxNonces bounds the MemoryCounts of a Server built without
// Config.Counts: about 200 bytes each, so 20 MB at most.
const DefaultMaxNonces = 100_000

// MemoryCounts is a NonceCounts in this process's memory, bounded like
// Kamailio's nonce_count array: it keeps at most limit nonces, each until it
// expires, and when full it drops the one that expires first. It fails
// closed: it remembers the latest expiry it dropped (and, for nonces
// issued before it was made, the end of their lifetime) and reports any
// nonce it does not know that expires by then as stale, since it may have
// been used. A client told stale=true retries with a fresh nonce without
// asking its user.
//
// Safe for concurrent use.
type MemoryCounts struct {
	limit int
	now   func() time.Time

	mu      sync.Mutex
	byNonce map[string]*countEntry
	order   countHeap // by expiry, soonest first
	// floor: an unknown nonce that expires at or before it may have been
	// dropped, or used before this process started.
	floor time.Time
}

type countEntry struct {
	nonce   string
	nc      uint32
	expires time.Time
}

// NewMemoryCounts returns an empty MemoryCounts keeping at most limit
// nonces. ttl is the nonce lifetime: nonces issued before now cannot be
// told from used ones, so those are stale to it.
func NewMemoryCounts(limit int, ttl time.Duration, now func() time.Time) *MemoryCounts {
	limit = max(limit, 1)
	if now == nil {
		now = time.Now
	}
	// A nonce issued before now (nonces carry nanoseconds) expires at
	// now+ttl-1ns at the latest.
	floor := now().Add(ttl - time.Nanosecond)
	return &MemoryCounts{limit: limit, now: now, byNonce: map[string]*countEntry{}, floor: floor}
}

// Use implements NonceCounts.
func (m *MemoryCounts) Use(_ context.Context, nonce string, nc uint32, expires time.Time) (bool, error) {
	now := m.now()
	if !expires.After(now) {
		return false, ErrStale
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.order) > 0 && !m.order[0].expires.After(now) {
		delete(m.byNonce, heap.Pop(&m.order).(*countEntry).nonce)
	}
	if e, ok := m.byNonce[nonce]; ok {
		if nc <= e.nc {
			return false, nil
		}
		e.nc = nc
		return true, nil
	}
	if !expires.After(m.floor) {
		return false, ErrStale
	}
	// A first use. Past the limit, drop the soonest to expire, perhaps this one.
	e := &countEntry{nonce: nonce, nc: nc, expires: expires}
	heap.Push(&m.order, e)
	m.byNonce[nonce] = e
	for len(m.order) > m.limit {
		old := heap.Pop(&m.order).(*countEntry)
		delete(m.byNonce, old.nonce)
		if old.expires.After(m.floor) {
			m.floor = old.expires
		}
	}
	return true, nil
}

// Len is the number of nonces remembered.
func (m *MemoryCounts) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.order)
}

// countHeap orders entries by expiry (container/heap).
type countHeap []*countEntry

func (h countHeap) Len() int           { return len(h) }
func (h countHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h countHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *countHeap) Push(x any)        { *h = append(*h, x.(*countEntry)) }
func (h *countHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
