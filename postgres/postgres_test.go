package postgres_test

import (
	"context"
	"strconv"
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

func TestReopenKeepsData(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	db := mustOpen(t, url)
	c := storetest.NewCDR(t, db, "alice", "keep-1", storetest.Base)
	if err := db.InsertCDR(ctx, c); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2 := mustOpen(t, url)
	got, err := db2.CDRByID(ctx, "keep-1")
	if err != nil {
		t.Fatalf("after reopen, CDRByID = %v", err)
	}
	if err := storetest.EqualCDR(got, c); err != nil {
		t.Error(err)
	}
}

func BenchmarkInsertCDR(b *testing.B) {
	db := mustOpen(b, storetest.PostgresURL(b))
	c := storetest.NewCDR(b, db, "alice", "x", storetest.Base)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		c.ID = "bench-" + strconv.Itoa(i)
		if err := db.InsertCDR(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}
