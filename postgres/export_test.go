package postgres_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/storetest"
)

// seedCDRs writes n CDRs with COPY and returns the filter that selects them.
func seedCDRs(tb testing.TB, db *postgres.DB, n int) dialtone.CDRFilter {
	tb.Helper()
	ctx := context.Background()
	a := storetest.NewAccount("bench")
	if err := db.CreateAccount(ctx, a); err != nil {
		tb.Fatalf("CreateAccount = %v", err)
	}
	cols := []string{"id", "app_call_id", "carrier_call_id", "account_id", "account", "caller", "dialed_raw", "dialed_e164", "trunk",
		"setup_at", "ringing_at", "answer_at", "end_at", "duration_ms", "billed_seconds", "disposition", "sip_code", "sip_reason", "hangup_by",
		"app_codec", "carrier_codec", "app_packets", "app_lost", "carrier_packets", "carrier_lost",
		"currency", "rate_plan", "prefix", "destination", "number_type", "sell_rate", "price", "bundle_seconds", "buy_rate", "cost", "margin"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= n {
			return nil, nil
		}
		i++
		end := start.Add(time.Duration(i)*3*time.Second + time.Duration(i%1000)*time.Microsecond)
		id := fmt.Sprintf("%08d-bench", i)
		return []any{id, "app-" + id, "carrier-" + id, a.ID, "bench", "+12015550123", "011442079460018", "+442079460018", "carrier1",
			end.Add(-95 * time.Second), end.Add(-93 * time.Second), end.Add(-90 * time.Second), end, int64(90000), int64(90),
			"ANSWERED", 200, "OK", "caller", "PCMA", "PCMA", int64(4500), int64(3), int64(4490), int64(0),
			"USD", "retail", "44", "United Kingdom", "fixed", int64(120000), int64(230000), int64(0), int64(30000), int64(45000), int64(185000)}, nil
	})
	if _, err := db.Pool().CopyFrom(ctx, pgx.Identifier{"cdrs"}, cols, src); err != nil {
		tb.Fatalf("seed cdrs: %v", err)
	}
	if _, err := db.Pool().Exec(ctx, "ANALYZE cdrs"); err != nil {
		tb.Fatalf("analyze: %v", err)
	}
	return dialtone.CDRFilter{From: start, To: start.AddDate(1, 0, 0)}
}

// cpuTime is the CPU this process (the database's client) has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExport exports 300,000 CDRs in each format, in turns within
// each iteration so that the load of a shared machine falls on all of them
// alike. jsonl is the native path (COPY), jsonl-portable the one SQLite
// takes (a query read into CDRs and dialtone.Exporter). It reports each
// export's seconds and the client's CPU milliseconds (this process; the
// database's is not counted), and the speed of each JSONL path relative to
// CSV (csv seconds / jsonl seconds: above 1 is faster than CSV).
func BenchmarkExport(b *testing.B) {
	const rows = 300_000
	db := mustOpen(b, storetest.PostgresURL(b))
	f := seedCDRs(b, db, rows)
	ctx := context.Background()
	paths := []struct {
		name string
		run  func() (int64, error)
		wall time.Duration
		cpu  time.Duration
	}{
		{name: "csv", run: func() (int64, error) { return db.ExportCDRs(ctx, f, dialtone.ExportCSV, io.Discard) }},
		{name: "jsonl", run: func() (int64, error) { return db.ExportCDRs(ctx, f, dialtone.ExportJSONL, io.Discard) }},
		{name: "jsonl-portable", run: func() (int64, error) { return db.ExportPortable(ctx, f, dialtone.ExportJSONL, io.Discard) }},
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range paths {
			p := &paths[i]
			began, cpu0 := time.Now(), cpuTime(b)
			n, err := p.run()
			if err != nil || n != rows {
				b.Fatalf("export %s = %d, %v; want %d rows", p.name, n, err, rows)
			}
			p.wall += time.Since(began)
			p.cpu += cpuTime(b) - cpu0
		}
	}
	for _, p := range paths {
		b.ReportMetric(p.wall.Seconds()/float64(b.N), p.name+"-s")
		b.ReportMetric(float64(p.cpu.Milliseconds())/float64(b.N), p.name+"-cpu-ms")
	}
	b.ReportMetric(paths[0].wall.Seconds()/paths[1].wall.Seconds(), "jsonl/csv")
	b.ReportMetric(paths[0].wall.Seconds()/paths[2].wall.Seconds(), "portable/csv")
}

// binaryRow is a row of COPY's binary format with c's stored values, as
// PostgreSQL writes the columns dialtone.ExportColumns of cdrs.
func binaryRow(tb testing.TB, c *dialtone.CDR) []byte {
	tb.Helper()
	rec := c.Record(nil)
	row := binary.BigEndian.AppendUint16(nil, uint16(len(rec)))
	times := map[string]time.Time{"setup_at": c.SetupAt, "ringing_at": c.RingingAt, "answer_at": c.AnswerAt, "end_at": c.EndAt}
	money := map[string]func() (int64, error){
		"sell_rate": func() (int64, error) { return dialtone.ToMicros(c.SellRate) },
		"price":     func() (int64, error) { return dialtone.ToMicros(c.Price) },
		"buy_rate":  func() (int64, error) { return dialtone.ToMicros(c.BuyRate) },
		"cost":      func() (int64, error) { return dialtone.ToMicros(c.Cost) },
		"margin":    func() (int64, error) { return dialtone.ToMicros(c.Margin) },
	}
	ints := map[string]int64{"duration_ms": c.Duration.Milliseconds(), "billed_seconds": c.BilledSeconds, "bundle_seconds": c.BundleSeconds,
		"app_packets": c.AppPackets, "app_lost": c.AppLost, "carrier_packets": c.CarrierPackets, "carrier_lost": c.CarrierLost}
	for i, col := range dialtone.ExportColumns {
		switch dialtone.ExportKinds[i] {
		case dialtone.ExportString:
			row = binary.BigEndian.AppendUint32(row, uint32(len(rec[i])))
			row = append(row, rec[i]...)
		case dialtone.ExportInt:
			if col == "sip_code" { // INTEGER
				row = binary.BigEndian.AppendUint32(row, 4)
				row = binary.BigEndian.AppendUint32(row, uint32(int32(c.SIPCode)))
				continue
			}
			row = binary.BigEndian.AppendUint32(row, 8)
			row = binary.BigEndian.AppendUint64(row, uint64(ints[col]))
		case dialtone.ExportTimeUTC:
			t := times[col]
			if t.IsZero() {
				row = binary.BigEndian.AppendUint32(row, 0xffffffff)
				continue
			}
			row = binary.BigEndian.AppendUint32(row, 8)
			row = binary.BigEndian.AppendUint64(row, uint64(t.UnixMicro()-postgres.PGEpochMicros))
		case dialtone.ExportMicros:
			m, err := money[col]()
			if err != nil {
				tb.Fatal(err)
			}
			row = binary.BigEndian.AppendUint32(row, 8)
			row = binary.BigEndian.AppendUint64(row, uint64(m))
		}
	}
	return row
}

func binaryCopy(tb testing.TB, cs []*dialtone.CDR) []byte {
	tb.Helper()
	out := append([]byte(postgres.CopySignature), 0, 0, 0, 0, 0, 0, 0, 0)
	for _, c := range cs {
		out = append(out, binaryRow(tb, c)...)
	}
	return append(out, 0xff, 0xff)
}

func trickyCDRs() []*dialtone.CDR {
	end := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	return storetest.TrickyCDRs(&dialtone.CDR{
		ID: "x", AppCallID: "app", CarrierCallID: "carrier", Account: "alice", Caller: "+12015550123", Trunk: "carrier1",
		SetupAt: end.Add(-65 * time.Second), RingingAt: end.Add(-64 * time.Second), AnswerAt: end.Add(-60 * time.Second), EndAt: end,
		Duration: 59876 * time.Millisecond, BilledSeconds: 60, Disposition: dialtone.Answered, SIPCode: 200, SIPReason: "OK",
		Currency: "USD", SellRate: storetest.D("0.05"), Price: storetest.D("0.0512"), Margin: storetest.D("-0.03"),
	})
}

func TestCopyJSONL(t *testing.T) {
	cs := trickyCDRs()
	in := binaryCopy(t, cs)
	want := storetest.ReferenceJSONL(cs)
	for _, size := range []int{len(in), 1, 2, 3, 7, 64, 1000} {
		var got bytes.Buffer
		j := postgres.NewCopyJSONL(&got)
		for p := in; len(p) > 0; {
			n := min(size, len(p))
			if _, err := j.Write(p[:n]); err != nil {
				t.Fatalf("Write(%d-byte pieces) = %v", size, err)
			}
			p = p[n:]
		}
		if err := j.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("Write(%d-byte pieces) =\n%s\nwant\n%s", size, got.Bytes(), want)
		}
	}
}

func TestCopyJSONLBad(t *testing.T) {
	good := binaryCopy(t, trickyCDRs()[:1])
	hdr := len(postgres.CopySignature) + 8
	badInt := bytes.Clone(good)
	// duration_ms is field 16: find it by walking the row.
	off := hdr + 2
	for range 16 {
		off += 4 + int(binary.BigEndian.Uint32(badInt[off:]))
	}
	binary.BigEndian.PutUint32(badInt[off:], 3)
	for name, in := range map[string][]byte{
		"signature":    append([]byte("PGCOPY\nXX"), good[9:]...),
		"field count":  append(append(bytes.Clone(good[:hdr]), 0, 2), good[hdr+2:]...),
		"int length":   badInt,
		"after end":    append(bytes.Clone(good), 0, 1),
		"no trailer":   good[:len(good)-2],
		"cut row":      good[:len(good)-10],
		"huge header":  append([]byte(postgres.CopySignature), 0, 0, 0, 0, 0x7f, 0, 0, 0),
		"empty string": {},
	} {
		var out bytes.Buffer
		j := postgres.NewCopyJSONL(&out)
		_, err := j.Write(in)
		if err == nil {
			err = j.Close()
		}
		if err == nil {
			t.Errorf("%s: Write+Close = nil error, want one", name)
		}
	}
	var out bytes.Buffer
	j := postgres.NewCopyJSONL(&out)
	if _, err := j.Write(binaryCopy(t, nil)); err != nil || j.Close() != nil || out.Len() != 0 {
		t.Errorf("no rows: %q, want nothing", out.String())
	}
}
