package sqlstore_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/sqlite"
	"github.com/dialtone/dialtone/storetest"
)

type migrator interface {
	dialtone.Store
	Migrate(ctx context.Context) ([]string, error)
}

// engines open, unmigrated, the database a test names: the same one each
// time it is opened again.
func engines(tb testing.TB) map[string]func() (migrator, error) {
	dir, pg := tb.TempDir(), ""
	return map[string]func() (migrator, error){
		"sqlite": func() (migrator, error) {
			return sqlite.Open(context.Background(), filepath.Join(dir, "sub", "dialtone.db"))
		},
		"postgres": func() (migrator, error) {
			if pg == "" {
				pg = storetest.PostgresURL(tb)
			}
			return postgres.Open(context.Background(), pg)
		},
	}
}

func TestReopenKeepsData(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := open()
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

			db2, err := open()
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
		})
	}
}

func BenchmarkInsertCDR(b *testing.B) {
	for name, open := range engines(b) {
		b.Run(name, func(b *testing.B) {
			db, err := open()
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
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
		})
	}
}
