// Package sqlite is the embedded store: one SQLite file (modernc.org/sqlite,
// pure Go) in WAL mode, the zero-setup default. The queries are
// sqlstore's; this package opens the file and gives the SQLite dialect.
//
// Durability: WAL with synchronous=NORMAL. A transaction that has returned
// survives a crash of the process (kill -9); only an operating-system crash
// or power loss may lose the last transactions. Set DIALTONE_SQLITE_SYNC=FULL
// for that guarantee at the cost of one fsync per write.
//
// Concurrency: writes go through one connection (SQLite has one writer;
// this avoids SQLITE_BUSY), reads through a pool of read-only connections
// that WAL lets run beside the writer. A DB is safe for concurrent use.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/sqlstore"
)

// DB is the SQLite store.
type DB struct {
	*sqlstore.Store
	path string
}

var _ dialtone.Store = (*DB)(nil)

// Dialect is SQLite's: ? placeholders, times as INTEGER unix microseconds,
// no row locks (the one write connection serializes writes).
func Dialect() *sqlstore.Dialect {
	return &sqlstore.Dialect{
		Name:     "sqlite",
		Time:     func(t time.Time) any { return t.UnixMicro() },
		Now:      `CAST(unixepoch('subsec') * 1000000 AS INTEGER)`,
		IsUnique: isUnique,
		Schema: sqlstore.Schema{
			ID: "INTEGER PRIMARY KEY", Int: "INTEGER", Time: "INTEGER", Date: "INTEGER", Bool: "INTEGER", False: "0",
			TrueTest: "%s = 1", FalseTest: "%s = 0",
			Blocks: map[string]string{
				"ledger_append_only": `CREATE TRIGGER ledger_movements_append_only BEFORE UPDATE ON ledger_movements
BEGIN SELECT RAISE(ABORT, 'ledger movements are append-only'); END;
CREATE TRIGGER ledger_movements_no_delete BEFORE DELETE ON ledger_movements
BEGIN SELECT RAISE(ABORT, 'ledger movements are append-only'); END;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;`,
				"ledger_fail": "",
			},
		},
	}
}

// Open opens or creates the database file at path. Call Migrate (or use
// OpenMigrated) before using it.
func Open(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
	}
	sync := "NORMAL"
	if os.Getenv("DIALTONE_SQLITE_SYNC") == "FULL" {
		sync = "FULL"
	}
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		q.Add("_pragma", "foreign_keys(1)")
		if extra != "" {
			q.Add("_pragma", extra)
		}
		q.Set("_txlock", "immediate")
		return "file:" + path + "?" + q.Encode()
	}
	write, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	return &DB{Store: sqlstore.New(Dialect(), write, read), path: path}, nil
}

// OpenMigrated opens the database and applies pending migrations.
func OpenMigrated(ctx context.Context, path string) (*DB, error) {
	db, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// isUnique reports a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
