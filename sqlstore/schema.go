package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"
)

// The migrations are text/template files rendered with a dialect's Schema:
// {{.ID}}, {{.Int}}, {{.Time}}, {{.Date}}, {{.Bool}} and {{.False}} are
// column types and literals, {{.IsTrue "col"}} and {{.IsFalse "col"}} test
// a boolean column, {{if .HouseAccounts}} marks the PostgreSQL-style house
// ledger accounts, and {{.Block "name"}} is DDL with no portable form
// (triggers, functions), which each dialect writes in its own language.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is what a dialect puts into the migrations.
type Schema struct {
	ID    string // an auto-numbered 64-bit primary key column type
	Int   string // a 64-bit integer column type
	Time  string // a time column type (see Dialect.Time)
	Date  string // a calendar date column type (see Dialect.Time)
	Bool  string // a boolean column type
	False string // the false literal
	// TrueTest and FalseTest are fmt formats of a boolean column test.
	TrueTest, FalseTest string
	// Blocks are DDL statements in the engine's own language, by name:
	// ledger_append_only (refuse UPDATE and DELETE on ledger_movements and
	// ledger_entries), ledger_fail (may be empty).
	Blocks map[string]string

	HouseAccounts bool // set from the Dialect
}

// IsTrue tests a boolean column.
func (s Schema) IsTrue(col string) string { return fmt.Sprintf(s.TrueTest, col) }

// IsFalse tests a boolean column.
func (s Schema) IsFalse(col string) string { return fmt.Sprintf(s.FalseTest, col) }

// Block is a named dialect-specific DDL block; an unknown name is an error.
func (s Schema) Block(name string) (string, error) {
	b, ok := s.Blocks[name]
	if !ok {
		return "", fmt.Errorf("dialect has no schema block %q", name)
	}
	return b, nil
}

// Migration is one rendered migration.
type Migration struct {
	Version string // the file name without .sql, as kept in schema_migrations
	SQL     string
}

// Migrations renders every migration for d, in order.
func (d *Dialect) Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	data := d.Schema
	data.HouseAccounts = d.HouseAccounts
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		text, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		t, err := template.New(version).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", version, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("migration %s for %s: %w", version, d.Name, err)
		}
		out = append(out, Migration{Version: version, SQL: b.String()})
	}
	return out, nil
}

// Migrate applies the migrations not yet applied, in order, each in its
// own transaction, and returns their versions.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := s.d.Migrations()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []string
	for _, m := range ms {
		done, err := s.applyMigration(ctx, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

func (s *Store) applyMigration(ctx context.Context, m Migration) (bool, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Version, err)
	}
	defer tx.Rollback()
	if s.d.LockMigrations != nil {
		if err := s.d.LockMigrations(ctx, tx.Tx); err != nil {
			return false, fmt.Errorf("migrate %s: lock: %w", m.Version, err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at `+s.d.Schema.Time+` NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Version, err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Version, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.Tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Version, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, s.d.T(s.now())); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Version, err)
	}
	return true, nil
}

// execer is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
