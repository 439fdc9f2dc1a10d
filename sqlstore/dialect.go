// Package sqlstore is the one implementation of dialtone.Store over
// database/sql, for every SQL engine: each query and each store method is
// written once, with ? placeholders, and a Dialect holds what really differs
// between engines (placeholders, how a time is stored, locking clauses,
// errors, migration locking, the DDL types, and native fast paths).
//
// The engine packages (sqlite, postgres) open the connections, give their
// Dialect and wrap a Store; adding an engine means writing a Dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone"
)

// Dialect is what differs between SQL engines.
type Dialect struct {
	// Name is the engine's name, used in errors ("sqlite", "postgres").
	Name string
	// Placeholder is the n-th (1-based) parameter marker; nil keeps "?".
	Placeholder func(n int) string
	// Time encodes a non-zero time as a parameter for a time column (the
	// zero time is always stored as NULL). Times read back go through
	// ScanTime, which understands the encodings database/sql drivers give.
	Time func(t time.Time) any
	// IsUnique reports a UNIQUE or PRIMARY KEY violation.
	IsUnique func(err error) bool
	// Now is an SQL expression of the database's current time, encoded as
	// a time column holds it (the nodes' leases are on this one clock).
	Now string
	// ForUpdate is the row-locking clause
	// appended to SELECTs inside write transactions (" FOR UPDATE");
	// empty on engines whose writes are serialized anyway.
	ForUpdate string
	// AsyncCommit, when set, runs first in the transactions of state that
	// is only ever short-lived (call slots): their commits then do not wait
	// for the disk. Others still see them at commit; a crash may lose the
	// last few, which expire anyway.
	AsyncCommit string
	// SerialInsert, when set, runs first in the transaction that stores a
	// chat message: a lock held until the commit, so that messages become
	// visible in the order of their IDs (clients list what they missed
	// after the last ID they saw). Empty on engines whose writes are
	// serialized anyway.
	SerialInsert string
	// LockMigrations, when set, runs first in each migration's transaction
	// so that nodes starting at once apply each migration exactly once.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// Schema renders the migrations (see migrations/*.sql).
	Schema Schema
	// HouseAccounts: house ledger accounts (see dialtone.IsHouseAccount)
	// keep no materialized balance (their entries' sum is their balance),
	// so that calls do not queue on one row lock. The schema has a house
	// column in ledger_accounts, and the Ledger hook must honour it.
	HouseAccounts bool
	// Ledger, when set, replaces the portable ledger posting.
	Ledger Ledger
	// ReadRows, when set, runs a streaming read (the CDR listing and export)
	// natively: query, with the dialect's placeholders, calls row for each
	// row until it returns an error.
	ReadRows func(ctx context.Context, query string, args []any, row func(Row) error) error
	// ExportCDRs, when set, replaces the portable CDR export.
	ExportCDRs func(ctx context.Context, f dialtone.CDRFilter, format dialtone.ExportFormat, w io.Writer) (int64, error)

	rebound sync.Map // query -> query with the dialect's placeholders
}

// Row is a row being read.
type Row interface{ Scan(dest ...any) error }

// Ledger is a native way to post ledger movements.
type Ledger interface {
	// Post applies a validated movement on its own.
	Post(ctx context.Context, m *dialtone.Movement, now time.Time) (replayed bool, err error)
	// PostTx applies a validated movement inside tx.
	PostTx(ctx context.Context, tx *sql.Tx, m *dialtone.Movement, now time.Time) (replayed bool, err error)
}

// Rebind rewrites the ? placeholders of q into the dialect's.
func (d *Dialect) Rebind(q string) string {
	if d.Placeholder == nil {
		return q
	}
	if r, ok := d.rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString(d.Placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	d.rebound.Store(q, s)
	return s
}

// T encodes t for a time column: NULL for the zero time.
func (d *Dialect) T(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.Time(t)
}

// ScanTime reads a time column: unix microseconds (INTEGER), a time
// (TIMESTAMPTZ, DATE) or RFC 3339 text; NULL is the zero time. Times come
// back in UTC.
type ScanTime struct{ T *time.Time }

// Scan implements sql.Scanner.
func (s ScanTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.T = time.Time{}
	case int64:
		*s.T = time.UnixMicro(v).UTC()
	case time.Time:
		*s.T = v.UTC()
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("scan time: unsupported %T", src)
	}
	return nil
}

func (s ScanTime) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	*s.T = t.UTC()
	return nil
}

// nullInt scans a nullable integer as 0 for NULL.
type nullInt struct{ V *int64 }

func (n nullInt) Scan(src any) error {
	var v sql.NullInt64
	if err := v.Scan(src); err != nil {
		return err
	}
	*n.V = v.Int64
	return nil
}

// st is shorthand for a ScanTime destination.
func st(t *time.Time) ScanTime { return ScanTime{t} }

// micro truncates t to what every engine stores: microseconds, UTC.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Microsecond).UTC()
}
