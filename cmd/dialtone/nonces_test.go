package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialtone/dialtone/sqlite"
	"github.com/dialtone/dialtone/switch/digest"
)

func TestNonceCounts(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenMigrated(ctx, filepath.Join(t.TempDir(), "dialtone.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := newNonceCounts(st, func() time.Time { return now })
	c.purgeEvery = 3

	if ok, err := c.Use(ctx, "a", 1, now); !errors.Is(err, digest.ErrStale) || ok {
		t.Errorf("Use(%q, 1, expired) = %v, %v; want false, %v", "a", ok, err, digest.ErrStale)
	}
	if ok, err := c.Use(ctx, "b", 1, now.Add(time.Minute)); err != nil || !ok {
		t.Errorf("Use(%q, 1) = %v, %v; want true", "b", ok, err)
	}
	if ok, err := c.Use(ctx, "b", 1, now.Add(time.Minute)); err != nil || ok {
		t.Errorf("Use(%q, 1) again = %v, %v; want false", "b", ok, err)
	}

	// The third use purges; "b" has expired by then and is forgotten.
	now = now.Add(2 * time.Minute)
	if ok, err := c.Use(ctx, "c", 1, now.Add(time.Minute)); err != nil || !ok {
		t.Errorf("Use(%q, 1) = %v, %v; want true", "c", ok, err)
	}
	if n, err := st.PurgeNonces(ctx, now); err != nil || n != 0 {
		t.Errorf("PurgeNonces(now) after the use that purged = %d, %v; want 0", n, err)
	}
}
