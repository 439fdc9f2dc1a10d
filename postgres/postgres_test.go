package postgres_test

import (
	"context"
	"sync"
	"testing"

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
