package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/digest"
)

// purgeNoncesEvery is how many nonce uses pass between two purges of the
// expired ones.
const purgeNoncesEvery = 1000

// nonceCounts is digest.NonceCounts over the store, so that the nodes
// sharing sip.auth_secret and the store refuse a replay sent to any of
// them, and a restart forgets no use. Every purgeEvery uses, the use also
// forgets the nonces that have expired. Safe for concurrent use.
type nonceCounts struct {
	st         dialtone.NonceStore
	now        func() time.Time
	purgeEvery uint64
	uses       atomic.Uint64
}

func newNonceCounts(st dialtone.NonceStore, now func() time.Time) *nonceCounts {
	return &nonceCounts{st: st, now: now, purgeEvery: purgeNoncesEvery}
}

// Use implements digest.NonceCounts. A nonce past its expiry is stale: its
// record may have been purged.
func (c *nonceCounts) Use(ctx context.Context, nonce string, nc uint32, expires time.Time) (bool, error) {
	now := c.now()
	if !expires.After(now) {
		return false, digest.ErrStale
	}
	if c.uses.Add(1)%c.purgeEvery == 0 {
		if _, err := c.st.PurgeNonces(ctx, now); err != nil {
			return false, err
		}
	}
	return c.st.UseNonce(ctx, nonce, nc, expires)
}
