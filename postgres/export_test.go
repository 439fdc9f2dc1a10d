package postgres_test

import (
	"context"
	"fmt"
	"io"
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

// BenchmarkExport exports 300,000 CDRs in each format; compare the formats'
// ns/op within one run.
func BenchmarkExport(b *testing.B) {
	const rows = 300_000
	db := mustOpen(b, storetest.PostgresURL(b))
	f := seedCDRs(b, db, rows)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		run  func() (int64, error)
	}{
		{"csv", func() (int64, error) { return db.ExportCDRs(ctx, f, dialtone.ExportCSV, io.Discard) }},
		{"jsonl", func() (int64, error) { return db.ExportCDRs(ctx, f, dialtone.ExportJSONL, io.Discard) }},
		{"jsonl-portable", func() (int64, error) { return db.ExportPortable(ctx, f, dialtone.ExportJSONL, io.Discard) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, err := bc.run()
				if err != nil || n != rows {
					b.Fatalf("export = %d, %v; want %d rows", n, err, rows)
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
