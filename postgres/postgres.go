// Package postgres is the production store: PostgreSQL (or a compatible
// distributed SQL) through pgx/v5 and its connection pool. Several switch
// nodes may share one database. The queries are sqlstore's, run through
// database/sql over the same pool (pgx's stdlib); this package gives the
// PostgreSQL dialect and the native paths that are measured to matter: the
// one-statement ledger posting and the COPY-based CSV export.
//
// Concurrency: a DB wraps a pgxpool.Pool and is safe for concurrent use.
// Migrations take a transaction-scoped advisory lock, so nodes starting at
// once apply each migration exactly once.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/sqlstore"
)

// migrationLock is the advisory lock key taken while migrating ("dialtone").
const migrationLock = 0x6469616c746f6e65

// messagesLock is the advisory lock key each chat message's insert holds
// to its commit ("messages"), so that the messages' IDs are committed in
// order: without it a message could commit after one with a higher ID that
// a client has already listed past.
const messagesLock = 0x6d65737361676573

// DB is the PostgreSQL store.
type DB struct {
	*sqlstore.Store
	pool *pgxpool.Pool
}

var _ dialtone.Store = (*DB)(nil)

// Dialect is PostgreSQL's. ledger and export, when set, are the native
// paths over a pool (see Open).
func Dialect(ledger sqlstore.Ledger, export *DB) *sqlstore.Dialect {
	d := &sqlstore.Dialect{
		Name:         "postgres",
		Placeholder:  func(n int) string { return "$" + strconv.Itoa(n) },
		Time:         func(t time.Time) any { return t.UTC() },
		Now:          `clock_timestamp()`,
		IsUnique:     isUnique,
		ForUpdate:    " FOR UPDATE",
		AsyncCommit:  "SET LOCAL synchronous_commit TO OFF",
		SerialInsert: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(messagesLock)),
		LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock))
			return err
		},
		HouseAccounts: true,
		Ledger:        ledger,
		Schema: sqlstore.Schema{
			ID: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", Int: "BIGINT", Time: "TIMESTAMPTZ", Date: "DATE",
			Bool: "BOOLEAN", False: "false", TrueTest: "%s", FalseTest: "NOT %s",
			Blocks: map[string]string{
				"ledger_append_only": `CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'ledger % is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER ledger_movements_append_only BEFORE UPDATE OR DELETE ON ledger_movements
	FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
	FOR EACH ROW EXECUTE FUNCTION ledger_append_only();`,
				// Raised from inside a statement to abort it with a message.
				"ledger_fail": `CREATE FUNCTION ledger_fail(msg TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'DT001', MESSAGE = msg;
END $$;`,
			},
		},
	}
	if export != nil {
		d.ExportCDRs = export.exportCDRs
		d.ReadRows = export.readRows
	}
	return d
}

// idleInTransaction is the server's idle_in_transaction_session_timeout
// for the switch's connections: below the default billing.lease_lapse.
const idleInTransaction = "5s"

// Open connects to the database at url. Call Migrate before using it.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// No transaction of ours waits on anything but the database. One left
	// idle inside is a node stalled (a pause, a partition): the server ends
	// it, so that its locks do not keep the other nodes from claiming its
	// calls once its lease lapses. A URL may set its own.
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = idleInTransaction
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := &DB{pool: pool}
	db.Store = sqlstore.New(Dialect(newLedger(pool), db), stdlib.OpenDBFromPool(pool), nil)
	return db, nil
}

// readRows streams a read on the pool natively: pgx reads rows off the
// connection as they are consumed, without database/sql's conversions.
func (db *DB) readRows(ctx context.Context, query string, args []any, row func(sqlstore.Row) error) error {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Pool is the pgx pool, for native paths.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the pool.
func (db *DB) Close() error {
	err := db.Store.Close()
	db.pool.Close()
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
