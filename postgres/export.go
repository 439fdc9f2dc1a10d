package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dialtone/dialtone"
)

// ExportSelect is the select list of a CDR export: each column formatted as
// dialtone.ExportColumns documents, so that COPY writes the same CSV as
// dialtone.Exporter.
func ExportSelect() string {
	out := make([]string, len(dialtone.ExportColumns))
	for i, c := range dialtone.ExportColumns {
		switch dialtone.ExportKinds[i] {
		case dialtone.ExportTimeUTC:
			out[i] = `to_char(` + c + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ` + c
		case dialtone.ExportMicros:
			out[i] = `(` + c + `::numeric / 1000000)::numeric(24,6) AS ` + c
		default:
			out[i] = c
		}
	}
	return strings.Join(out, ", ")
}

// exportCDRs streams the records matching f to w through COPY, the fastest
// way out of PostgreSQL. For CSV the database formats every field
// (ExportSelect) and its output is the file. For JSONL it sends the stored
// values in COPY's binary format, which costs it nothing to write, and
// copyJSONL formats them as the rows arrive, on the client's core.
func (db *DB) exportCDRs(ctx context.Context, f dialtone.CDRFilter, format dialtone.ExportFormat, w io.Writer) (int64, error) {
	var sel, opts string
	switch format {
	case dialtone.ExportCSV:
		sel, opts = ExportSelect(), `(FORMAT csv, HEADER true)`
	case dialtone.ExportJSONL:
		sel, opts = strings.Join(dialtone.ExportColumns, ", "), `(FORMAT binary)`
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
	q := `SELECT ` + sel + ` FROM cdrs WHERE end_at >= ` + timeLiteral(f.From) + ` AND end_at < ` + timeLiteral(f.To)
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
	tag, err := pc.CopyTo(ctx, w, `COPY (`+q+`) TO STDOUT WITH `+opts)
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

// copyJSONL turns the rows of COPY's binary format
// (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format")
// of the columns dialtone.ExportColumns into JSONL lines, the same bytes
// dialtone.Exporter writes: each field formatted by its dialtone.ExportKinds
// (NULL, a time the call never reached, as an empty string). Lines are
// gathered into blocks of about copyBlock bytes before they are written to w.
type copyJSONL struct {
	w      io.Writer
	in     []byte // received, not yet decoded: the header or a part of a row
	out    []byte // lines not yet written to w
	header bool   // the file header was read
	ended  bool   // the trailer was read
}

const copyBlock = 64 << 10

// copySignature starts COPY's binary format.
const copySignature = "PGCOPY\n\xff\r\n\x00"

// pgEpochMicros is 2000-01-01 UTC, PostgreSQL's epoch for timestamps, in
// Unix microseconds.
const pgEpochMicros = 946_684_800_000_000

// Write takes any part of COPY's output: whole rows, as pgconn passes them,
// or pieces.
func (j *copyJSONL) Write(p []byte) (int, error) {
	if j.out == nil {
		j.out = make([]byte, 0, copyBlock+4<<10)
	}
	buf := p
	if len(j.in) > 0 {
		j.in = append(j.in, p...)
		buf = j.in
	}
	used, err := j.decode(buf)
	if err != nil {
		return 0, err
	}
	rest := buf[used:]
	if len(j.in) > 0 {
		j.in = append(j.in[:0], rest...)
	} else {
		j.in = append(j.in, rest...)
	}
	if len(j.out) >= copyBlock {
		if err := j.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// decode encodes the complete rows at the start of b and returns how many
// bytes they took.
func (j *copyJSONL) decode(b []byte) (int, error) {
	used := 0
	if !j.header {
		if len(b) < len(copySignature)+8 {
			return 0, nil
		}
		if string(b[:len(copySignature)]) != copySignature {
			return 0, fmt.Errorf("copy: not the binary format")
		}
		ext := int(binary.BigEndian.Uint32(b[len(copySignature)+4:]))
		n := len(copySignature) + 8 + ext
		if ext > 1<<20 {
			return 0, fmt.Errorf("copy: header extension of %d bytes", ext)
		}
		if len(b) < n {
			return 0, nil
		}
		j.header, used = true, n
	}
	cols := len(dialtone.ExportColumns)
	for used < len(b) {
		if j.ended {
			return 0, fmt.Errorf("copy: %d bytes after the trailer", len(b)-used)
		}
		row := b[used:]
		if len(row) < 2 {
			return used, nil
		}
		n := int(int16(binary.BigEndian.Uint16(row)))
		if n == -1 {
			j.ended = true
			used += 2
			continue
		}
		if n != cols {
			return 0, fmt.Errorf("copy: row of %d fields, want %d", n, cols)
		}
		// The whole row first, so that a row is encoded once.
		end := 2
		for range cols {
			if len(row) < end+4 {
				return used, nil
			}
			if l := int32(binary.BigEndian.Uint32(row[end:])); l > 0 {
				end += int(l)
			}
			end += 4
		}
		if len(row) < end {
			return used, nil
		}
		if err := j.row(row[2:end]); err != nil {
			return 0, err
		}
		used += end
	}
	return used, nil
}

// row appends the JSONL line of one complete row's fields.
func (j *copyJSONL) row(b []byte) error {
	out := j.out
	for i, kind := range dialtone.ExportKinds {
		l := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		var v []byte
		if l >= 0 {
			v, b = b[:l], b[l:]
		}
		out = append(out, dialtone.JSONLKeys[i]...)
		switch kind {
		case dialtone.ExportString:
			out = dialtone.AppendJSONString(out, v)
		case dialtone.ExportInt:
			switch l {
			case 2:
				out = strconv.AppendInt(out, int64(int16(binary.BigEndian.Uint16(v))), 10)
			case 4:
				out = strconv.AppendInt(out, int64(int32(binary.BigEndian.Uint32(v))), 10)
			case 8:
				out = strconv.AppendInt(out, int64(binary.BigEndian.Uint64(v)), 10)
			default:
				return fmt.Errorf("copy: %s: %d bytes for an integer", dialtone.ExportColumns[i], l)
			}
		case dialtone.ExportTimeUTC, dialtone.ExportMicros:
			out = append(out, '"')
			switch {
			case l == -1 && kind == dialtone.ExportTimeUTC:
			case l != 8:
				return fmt.Errorf("copy: %s: %d bytes, want 8", dialtone.ExportColumns[i], l)
			case kind == dialtone.ExportTimeUTC:
				out = dialtone.AppendExportTime(out, time.UnixMicro(pgEpochMicros+int64(binary.BigEndian.Uint64(v))))
			default:
				out = dialtone.AppendExportMicros(out, int64(binary.BigEndian.Uint64(v)))
			}
			out = append(out, '"')
		}
	}
	j.out = append(out, '}', '\n')
	return nil
}

func (j *copyJSONL) flush() error {
	if len(j.out) == 0 {
		return nil
	}
	_, err := j.w.Write(j.out)
	j.out = j.out[:0]
	return err
}

// Close writes what is left; a file without its trailer is an error.
func (j *copyJSONL) Close() error {
	if !j.ended || len(j.in) > 0 {
		return fmt.Errorf("copy: output cut short")
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
