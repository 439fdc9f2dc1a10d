package sqlstore_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/sqlite"
	"github.com/dialtone/dialtone/storetest"
)

// The golden files are the schemas of databases migrated by the code from
// before sqlstore, which kept one copy of the migrations per engine:
//
//	go test ./sqlstore -run TestSchema -golden-sqlite=OLD.db -golden-postgres=URL
//
// rewrites them from such databases. The tests check that the migrations
// rendered for each dialect make exactly that schema, so that databases
// made by the old code and by this one are the same.
var (
	goldenSQLite   = flag.String("golden-sqlite", "", "write testdata/schema.sqlite.golden from this SQLite file")
	goldenPostgres = flag.String("golden-postgres", "", "write testdata/schema.postgres.golden from the database at this URL")
)

func TestSchemaSQLite(t *testing.T) {
	if *goldenSQLite != "" {
		db, err := sql.Open("sqlite", *goldenSQLite)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		writeGolden(t, "schema.sqlite.golden", dumpSQLite(t, db))
	}
	db, err := sqlite.OpenMigrated(context.Background(), filepath.Join(t.TempDir(), "schema.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	compareGolden(t, "schema.sqlite.golden", dumpSQLite(t, db.DB()))
}

func TestSchemaPostgres(t *testing.T) {
	if *goldenPostgres != "" {
		db, err := sql.Open("pgx", *goldenPostgres)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		writeGolden(t, "schema.postgres.golden", dumpPostgres(t, db))
	}
	db, err := postgres.Open(context.Background(), storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "schema.postgres.golden", dumpPostgres(t, db.DB()))
}

var (
	sqlComment = regexp.MustCompile(`--[^\n]*`)
	space      = regexp.MustCompile(`\s+`)
)

// normalize drops comments and layout from DDL text.
func normalize(ddl string) string {
	s := space.ReplaceAllString(sqlComment.ReplaceAllString(ddl, ""), " ")
	s = strings.NewReplacer("( ", "(", " )", ")", " ,", ",").Replace(s)
	return strings.TrimSpace(s)
}

func dumpSQLite(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	query(t, db, &b, `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`, 3)
	tables := column(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	for _, tb := range tables {
		fmt.Fprintf(&b, "table %s\n", tb)
		query(t, db, &b, `SELECT cid, name, type, "notnull", coalesce(dflt_value, 'NULL'), pk FROM pragma_table_info(?)`, -1, tb)
		query(t, db, &b, `SELECT id, seq, "table", "from", coalesce("to", ''), on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, -1, tb)
	}
	fmt.Fprintln(&b, "versions")
	query(t, db, &b, `SELECT version FROM schema_migrations ORDER BY version`, -1)
	return b.String()
}

func dumpPostgres(t *testing.T, db *sql.DB) string {
	t.Helper()
	var schema string
	if err := db.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintln(&b, "columns")
	query(t, db, &b, `SELECT table_name, ordinal_position, column_name, data_type, is_nullable, coalesce(column_default, ''), is_identity,
		coalesce(identity_generation, '') FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`, -1)
	fmt.Fprintln(&b, "constraints")
	query(t, db, &b, `SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2`, -1)
	fmt.Fprintln(&b, "indexes")
	query(t, db, &b, `SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '') FROM pg_indexes
		WHERE schemaname = current_schema() ORDER BY 1, 2`, -1)
	fmt.Fprintln(&b, "triggers")
	query(t, db, &b, `SELECT tgrelid::regclass::text, tgname, replace(pg_get_triggerdef(oid), current_schema() || '.', '') FROM pg_trigger
		WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace) ORDER BY 1, 2`, -1)
	fmt.Fprintln(&b, "functions")
	query(t, db, &b, `SELECT proname, pg_get_function_arguments(oid), pg_get_function_result(oid), prosrc FROM pg_proc
		WHERE pronamespace = current_schema()::regnamespace ORDER BY 1`, 3)
	fmt.Fprintln(&b, "versions")
	query(t, db, &b, `SELECT version FROM schema_migrations ORDER BY version`, -1)
	return b.String()
}

// query writes each row as one line of |-separated values; the value in
// column norm (0-based; -1: none) is DDL, normalized.
func query(t *testing.T, db *sql.DB, b *strings.Builder, q string, norm int, args ...any) {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(cols))
		for i, v := range vals {
			out[i] = v.String
			if i == norm {
				out[i] = normalize(v.String)
			}
		}
		fmt.Fprintln(b, strings.Join(out, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func column(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func writeGolden(t *testing.T, name, dump string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Errorf("schema differs from %s at line %d:\n got: %s\nwant: %s", name, i+1, gl, wl)
			return
		}
	}
}
