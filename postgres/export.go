package postgres

import (
	"bytes"
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

// exportCDRs streams the records matching f to w through COPY, the fastest
// way out of PostgreSQL: the database formats every field (ExportSelect);
// for CSV its output is the file, for JSONL its text format is turned into
// JSON lines as it arrives (copyJSONL).
func (db *DB) exportCDRs(ctx context.Context, f dialtone.CDRFilter, format dialtone.ExportFormat, w io.Writer) (int64, error) {
	var opts string
	switch format {
	case dialtone.ExportCSV:
		opts = ` WITH (FORMAT csv, HEADER true)`
	case dialtone.ExportJSONL:
		w = &copyJSONL{w: w}
	default:
		return 0, fmt.Errorf("export cdrs: %w format %q", dialtone.ErrInvalid, format)
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
	tag, err := pc.CopyTo(ctx, w, `COPY (`+q+`) TO STDOUT`+opts)
	if err == nil {
		if j, ok := w.(*copyJSONL); ok {
			err = j.Close()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("export cdrs: %w", err)
	}
	return tag.RowsAffected(), nil
}

// copyJSONL turns the rows of COPY's text format into JSONL lines, the same
// bytes dialtone.Exporter writes: the fields are those of ExportSelect, NULL
// (a time the call never reached) becomes an empty string, and the JSON
// encoding is dialtone.AppendJSONL's. Lines are gathered into blocks of
// about copyBlock bytes before they are written to w.
type copyJSONL struct {
	w       io.Writer
	partial []byte   // a row split over writes
	out     []byte   // lines not yet written to w
	fields  [][]byte // the current row's fields
	bufs    [][]byte // unescaped fields, one buffer per column
}

const copyBlock = 64 << 10

// Write takes any part of COPY's output: whole rows, as pgconn passes them,
// or pieces.
func (j *copyJSONL) Write(p []byte) (int, error) {
	if j.out == nil {
		j.out = make([]byte, 0, copyBlock+4<<10)
		j.fields = make([][]byte, 0, len(dialtone.ExportColumns))
		j.bufs = make([][]byte, len(dialtone.ExportColumns))
	}
	n := len(p)
	if len(j.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			j.partial = append(j.partial, p...)
			return n, nil
		}
		j.partial = append(j.partial, p[:i+1]...)
		if err := j.row(j.partial[:len(j.partial)-1]); err != nil {
			return 0, err
		}
		j.partial = j.partial[:0]
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			j.partial = append(j.partial, p...)
			break
		}
		if err := j.row(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	if len(j.out) >= copyBlock {
		if err := j.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// row encodes one row of COPY's text format: tab-separated fields, \N for
// NULL, backslash escapes for backslash and control characters.
func (j *copyJSONL) row(line []byte) error {
	j.fields = j.fields[:0]
	for k := 0; ; k++ {
		i := bytes.IndexByte(line, '\t')
		field := line
		if i >= 0 {
			field = line[:i]
		}
		if k >= len(j.bufs) {
			return fmt.Errorf("copy row: more than %d fields", len(j.bufs))
		}
		if bytes.IndexByte(field, '\\') >= 0 {
			if len(field) == 2 && field[1] == 'N' {
				field = nil
			} else {
				j.bufs[k] = unescapeCopy(j.bufs[k][:0], field)
				field = j.bufs[k]
			}
		}
		j.fields = append(j.fields, field)
		if i < 0 {
			break
		}
		line = line[i+1:]
	}
	var err error
	j.out, err = dialtone.AppendJSONL(j.out, j.fields)
	return err
}

// unescapeCopy appends field with COPY's text-format escapes resolved
// (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format").
func unescapeCopy(dst, field []byte) []byte {
	for i := 0; i < len(field); i++ {
		c := field[i]
		if c != '\\' || i+1 == len(field) {
			dst = append(dst, c)
			continue
		}
		i++
		switch c = field[i]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(field) && isHex(field[i+1]) {
				i++
				n++
				v = v<<4 | unhex(field[i])
			}
			if n == 0 {
				dst = append(dst, 'x')
			} else {
				dst = append(dst, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for n := 1; n < 3 && i+1 < len(field) && field[i+1] >= '0' && field[i+1] <= '7'; n++ {
				i++
				v = v<<3 | int(field[i]-'0')
			}
			dst = append(dst, byte(v))
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) int {
	switch {
	case c <= '9':
		return int(c - '0')
	case c >= 'a':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

func (j *copyJSONL) flush() error {
	if len(j.out) == 0 {
		return nil
	}
	_, err := j.w.Write(j.out)
	j.out = j.out[:0]
	return err
}

// Close writes what is left; a row cut short is an error.
func (j *copyJSONL) Close() error {
	if len(j.partial) > 0 {
		return fmt.Errorf("copy: %d bytes after the last row", len(j.partial))
	}
	return j.flush()
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
