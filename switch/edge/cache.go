package edge

import (
	"context"
	"sync"
	"time"

	"github.com/dialtone/dialtone"
)

// AccountCache keeps accounts read from the store for a short time, so a
// burst of REGISTERs and INVITEs does not read the same row each time. A
// change (disable) reaches the edge within the TTL. Devices, which hold
// the SIP passwords, are not cached (see Credentials).
// Safe for concurrent use.
type AccountCache struct {
	next Accounts
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	acct    *dialtone.Account
	expires time.Time
}

// maxCached bounds the cache; past it, the cache is emptied and refilled.
const maxCached = 100_000

// NewAccountCache wraps next; a ttl of 0 disables caching.
func NewAccountCache(next Accounts, ttl time.Duration) *AccountCache {
	return &AccountCache{next: next, ttl: ttl, now: time.Now, entries: map[string]cached{}}
}

// AccountByUsername returns the cached account or reads it from the store.
// Unknown usernames are not cached, so a new account works at once.
func (c *AccountCache) AccountByUsername(ctx context.Context, username string) (*dialtone.Account, error) {
	if c.ttl <= 0 {
		return c.next.AccountByUsername(ctx, username)
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[username]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		a := *e.acct
		return &a, nil
	}
	a, err := c.next.AccountByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCached {
		clear(c.entries)
	}
	stored := *a
	c.entries[username] = cached{acct: &stored, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return a, nil
}
