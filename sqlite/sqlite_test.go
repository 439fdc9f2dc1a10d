package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/sqlite"
	"github.com/dialtone/dialtone/storetest"
)

func mustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.OpenMigrated(context.Background(), path)
	if err != nil {
		tb.Fatalf("OpenMigrated(%s) = %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) dialtone.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "dialtone.db"))
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dialtone.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) == 0 {
		t.Fatalf("first Migrate() = %v, %v, want the migrations applied", applied, err)
	}
	c := storetest.NewCDR(t, db, "alice", "keep-1", storetest.Base)
	if err := db.InsertCDR(ctx, c); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if again, err := db2.Migrate(ctx); err != nil || len(again) != 0 {
		t.Errorf("second Migrate() = %v, %v, want nothing applied", again, err)
	}
	if _, err := db2.AccountByUsername(ctx, "alice"); err != nil {
		t.Errorf("after reopen, AccountByUsername(alice) = %v", err)
	}
	got, err := db2.CDRByID(ctx, "keep-1")
	if err != nil {
		t.Fatalf("after reopen, CDRByID = %v", err)
	}
	if err := storetest.EqualCDR(got, c); err != nil {
		t.Error(err)
	}
}

func BenchmarkInsertCDR(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
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
