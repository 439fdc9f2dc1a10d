package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/sqlite"
)

// Stores opens each real store, fresh and migrated, closed when the test
// ends: SQLite in a temporary file, PostgreSQL in a schema of its own.
func Stores() map[string]func(*testing.T) dialtone.Store {
	return map[string]func(*testing.T) dialtone.Store{
		"sqlite": func(t *testing.T) dialtone.Store {
			db, err := sqlite.OpenMigrated(context.Background(), filepath.Join(t.TempDir(), "dialtone.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"postgres": func(t *testing.T) dialtone.Store {
			db, err := postgres.Open(context.Background(), PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return db
		},
	}
}
