package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dialtone/dialtone"
)

// Store is dialtone.Store over database/sql.
type Store struct {
	d     *Dialect
	write *sql.DB // writes and write transactions
	read  *sql.DB // reads; may be write
	now   func() time.Time

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // prepared on the write pool on first use
}

var _ dialtone.Store = (*Store)(nil)

// New makes a Store that writes through write and reads through read (the
// same *sql.DB where an engine has no separate readers). Closing it closes
// both.
func New(d *Dialect, write, read *sql.DB) *Store {
	if read == nil {
		read = write
	}
	return &Store{d: d, write: write, read: read, now: func() time.Time { return time.Now().UTC() }}
}

// Dialect is the store's dialect.
func (s *Store) Dialect() *Dialect { return s.d }

// DB is the write pool, for engine-specific paths.
func (s *Store) DB() *sql.DB { return s.write }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// prepared returns query prepared on the write pool, preparing it once.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if stmt, ok := s.stmts[query]; ok {
		return stmt, nil
	}
	stmt, err := s.write.PrepareContext(ctx, s.d.Rebind(query))
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	s.stmts[query] = stmt
	return stmt, nil
}

// Close closes the pools.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, stmt := range s.stmts {
		stmt.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	if s.read == s.write {
		return s.write.Close()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Name, err)
	}
	return nil
}

// q runs queries written with ? placeholders on a pool or a transaction.
type q struct {
	c execer
	d *Dialect
}

func (q q) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.c.ExecContext(ctx, q.d.Rebind(query), args...)
}

func (q q) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.c.QueryContext(ctx, q.d.Rebind(query), args...)
}

func (q q) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.c.QueryRowContext(ctx, q.d.Rebind(query), args...)
}

// tx is a write transaction.
type tx struct {
	q
	Tx *sql.Tx
}

func (t tx) Commit() error   { return t.Tx.Commit() }
func (t tx) Rollback() error { return t.Tx.Rollback() }

func (s *Store) r() q { return q{s.read, s.d} }
func (s *Store) w() q { return q{s.write, s.d} }

// begin starts a write transaction.
func (s *Store) begin(ctx context.Context) (tx, error) {
	t, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return tx{}, err
	}
	return tx{q{t, s.d}, t}, nil
}

// snapshot starts a read-only transaction that sees one snapshot.
func (s *Store) snapshot(ctx context.Context) (tx, error) {
	t, err := s.read.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return tx{}, err
	}
	return tx{q{t, s.d}, t}, nil
}

// notFound maps sql.ErrNoRows to dialtone.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return dialtone.ErrNotFound
	}
	return err
}

type scanner interface{ Scan(...any) error }

var errNoRows = sql.ErrNoRows

// collect reads one column of every row.
func collect[T any](rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
