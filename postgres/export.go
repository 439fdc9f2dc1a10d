package postgres

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dialtone/dialtone"
)

// ExportSelect is the select list of a CDR export: each column formatted as
// dialtone.ExportColumns documents, so that COPY writes the same CSV as
// dialtone.Exporter.
func ExportSelect() string {
	tsf := func(c string) string {
		return `to_char(` + c + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	}
	money := func(c string) string { return `(` + c + `::numeric / 1000000)::numeric(24,6)` }
	cols := map[string]string{
		"setup_at": tsf("setup_at"), "ringing_at": tsf("ringing_at"), "answer_at": tsf("answer_at"), "end_at": tsf("end_at"),
		"sell_rate": money("sell_rate"), "price": money("price"), "buy_rate": money("buy_rate"),
		"cost": money("cost"), "margin": money("margin"),
	}
	out := make([]string, len(dialtone.ExportColumns))
	for i, c := range dialtone.ExportColumns {
		if expr, ok := cols[c]; ok {
			out[i] = expr + ` AS ` + c
		} else {
			out[i] = c
		}
	}
	return strings.Join(out, ", ")
}

// exportCDRs streams the records matching f to w. CSV goes through COPY, the
// fastest way out of PostgreSQL; JSONL through sqlstore's streaming query.
func (db *DB) exportCDRs(ctx context.Context, f dialtone.CDRFilter, format dialtone.ExportFormat, w io.Writer) (int64, error) {
	if format != dialtone.ExportCSV {
		return db.ExportPortable(ctx, f, format, w)
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("export cdrs: %w", err)
	}
	defer conn.Release()
	pc := conn.Conn().PgConn()
	if pc.ParameterStatus("standard_conforming_strings") != "on" {
		return 0, fmt.Errorf("export cdrs: standard_conforming_strings must be on")
	}
	// COPY takes no parameters: the filter's values are written as literals.
	q := `SELECT ` + ExportSelect() + ` FROM cdrs WHERE end_at >= ` + timeLiteral(f.From) + ` AND end_at < ` + timeLiteral(f.To)
	if f.Account != "" {
		q += ` AND account = ` + quote(f.Account)
	}
	if f.Trunk != "" {
		q += ` AND trunk = ` + quote(f.Trunk)
	}
	q += ` ORDER BY end_at, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	tag, err := pc.CopyTo(ctx, w, `COPY (`+q+`) TO STDOUT WITH (FORMAT csv, HEADER true)`)
	if err != nil {
		return 0, fmt.Errorf("export cdrs: %w", err)
	}
	return tag.RowsAffected(), nil
}

func timeLiteral(t time.Time) string {
	return `'` + t.UTC().Format("2006-01-02 15:04:05.999999") + `+00'::timestamptz`
}

// quote makes a string literal; with standard_conforming_strings on, only
// the quote character needs doubling.
func quote(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
