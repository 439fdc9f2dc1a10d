package postgres_test

import (
	"context"
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
