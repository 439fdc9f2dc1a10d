package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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

// TestLedgerBatches checks that debits posted at once share transactions,
// each movement still with its own ID and entries.
func TestLedgerBatches(t *testing.T) {
	db := mustOpen(t, storetest.PostgresURL(t))
	ctx := context.Background()
	for w := range int64(8) {
		storetest.TopUp(t, db, w, "10")
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 64 {
		m := storetest.Move(t, dialtone.Transfer{Key: fmt.Sprintf("at-once-%d", i), Kind: "call", Currency: "USD",
			From: dialtone.WalletAccount(int64(i % 8)), To: dialtone.CallRevenueAccount("USD"), Amount: storetest.D("0.01")})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if replayed, err := db.Post(ctx, m); err != nil || replayed || m.ID == 0 {
				t.Errorf("Post(%s) = %v, %v, id %d", m.Key, replayed, err, m.ID)
			}
		}()
	}
	close(start)
	wg.Wait()
	var movements, commits, entries int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT xmin::text), (SELECT count(*) FROM ledger_entries e JOIN ledger_movements m
		ON m.id = e.movement_id WHERE m.key LIKE 'at-once-%') FROM ledger_movements WHERE key LIKE 'at-once-%'`).Scan(&movements, &commits, &entries); err != nil {
		t.Fatal(err)
	}
	if movements != 64 || entries != 128 || commits >= movements {
		t.Errorf("64 debits at once: %d movements with %d entries in %d transactions; want 64 with 128 in fewer", movements, entries, commits)
	}
	storetest.CheckLedger(t, db)
}

// BenchmarkPost posts debits from parallel clients, spread over 1000
// wallets or all from one.
func BenchmarkPost(b *testing.B) {
	db := mustOpen(b, storetest.PostgresURL(b))
	ctx := context.Background()
	for w := range int64(1000) {
		storetest.TopUp(b, db, w, "1000000")
	}
	for _, wallets := range []int64{1000, 1} {
		b.Run(fmt.Sprintf("wallets=%d", wallets), func(b *testing.B) {
			var n atomic.Int64
			b.SetParallelism(8) // 16 clients on 2 cores, as billbench
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					m, err := dialtone.Transfer{Key: fmt.Sprintf("bench-%d-%d-%d", wallets, b.N, i), Kind: "call", Currency: "USD",
						From: dialtone.WalletAccount(i % wallets), To: dialtone.CallRevenueAccount("USD"), Amount: storetest.D("0.01")}.Movement()
					if err == nil {
						_, err = db.Post(ctx, m)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
