package sqlite_test

import (
	"context"
	"path/filepath"
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
