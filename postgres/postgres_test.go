package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/storetest"
)

func mustOpen(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatalf("Migrate = %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dialtone.Store {
		return mustOpen(t, storetest.PostgresURL(t))
	})
}

func TestMigrateOnceUnderConcurrency(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make([][]string, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, url)
			if err != nil {
				t.Error(err)
				return
			}
			defer db.Close()
			applied, err := db.Migrate(ctx)
			if err != nil {
				t.Errorf("Migrate = %v", err)
			}
			results[i] = applied
		}()
	}
	wg.Wait()
	total := 0
	for _, r := range results {
		total += len(r)
	}
	db := mustOpen(t, url)
	if again, _ := db.Migrate(ctx); total == 0 || len(again) != 0 {
		t.Errorf("4 concurrent Migrate applied %d in all, then %v; want each migration once", total, again)
	}
}

// TestStalledNodeReleasesItsLocks: a node that stalls inside a transaction
// holding its lease row (a pause, a partition) loses the transaction at the
// server, so another node can still claim its calls.
func TestStalledNodeReleasesItsLocks(t *testing.T) {
	url := storetest.PostgresURL(t)
	stalled, survivor := mustOpen(t, url), mustOpen(t, url)
	ctx := context.Background()
	if _, err := stalled.Heartbeat(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	tx, err := stalled.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT name FROM nodes WHERE name = 'a' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	// Stalled: the transaction sits idle with the row locked.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := survivor.ClaimSessions(cctx, "a", "b", 0); err != nil {
		t.Errorf("ClaimSessions(a, locked by a stalled transaction) = %v, want the lock released by the server", err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1`); err == nil {
		t.Errorf("the stalled transaction still runs, want it ended by the server")
	}
}
