// Command billbench measures the money path on real stores: ledger debits
// per second (spread over many wallets and on one hot wallet) on SQLite and
// PostgreSQL next to pgbench doing the same single-row update, and the CDR
// export of a million rows, CSV and JSONL, next to psql's \copy of the same
// rows as CSV, with the exporter's peak memory.
//
//	go run ./cmd/billbench -bin bin/dialtone [-pg URL] [-rows 1000000] [-seconds 10]
//
// The debit runs take turns with pgbench's, -rounds times, each pair
// printed with its ratio: the machine may be shared, and a ratio from runs
// side by side is steadier than one from runs minutes apart. Each run also
// prints the machine's busy CPU time per debit or update (all processes:
// the benchmark, the database, the kernel), which says how much of a
// ratio is the work's cost and how much its waiting. -stores and
// -export=false narrow the run, e.g. to PostgreSQL's debits only.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/internal/benchproc"
	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/sqlite"
)

func main() {
	bin := flag.String("bin", "bin/dialtone", "the dialtone binary (for the export)")
	pgURL := flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server")
	rows := flag.Int("rows", 1_000_000, "CDRs to export")
	seconds := flag.Int("seconds", 10, "length of each debit run")
	workers := flag.Int("workers", 16, "concurrent debiting clients")
	rounds := flag.Int("rounds", 1, "debit runs per store and wallet spread, each next to a pgbench run")
	stores := flag.String("stores", "sqlite,postgres", "stores whose debits are measured")
	export := flag.Bool("export", true, "measure the CDR export too")
	flag.Parse()
	o := options{rows: *rows, d: time.Duration(*seconds) * time.Second, workers: *workers, rounds: *rounds, export: *export}
	for _, s := range strings.Split(*stores, ",") {
		o.stores = append(o.stores, strings.TrimSpace(s))
	}
	if err := run(*bin, *pgURL, o); err != nil {
		fmt.Fprintln(os.Stderr, "billbench:", err)
		os.Exit(1)
	}
}

// options are the run's flags.
type options struct {
	rows    int
	d       time.Duration
	workers int
	rounds  int
	stores  []string
	export  bool
}

func run(bin, pgURL string, o options) error {
	rows, d, workers := o.rows, o.d, o.workers
	ctx := context.Background()
	schema, schemaURL, drop, err := freshSchema(ctx, pgURL)
	if err != nil {
		return err
	}
	defer drop()
	pg, err := postgres.Open(ctx, schemaURL)
	if err != nil {
		return err
	}
	defer pg.Close()
	if _, err := pg.Migrate(ctx); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "billbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lite, err := sqlite.OpenMigrated(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer lite.Close()

	fmt.Printf("debits: %d clients, %v per run, each a ledger movement wallet -> revenue with its entries\n", workers, d)
	all := map[string]dialtone.Store{"sqlite": lite, "postgres": pg}
	for round := range o.rounds {
		if o.rounds > 1 {
			fmt.Printf(" round %d\n", round+1)
		}
		for _, hot := range []bool{false, true} {
			var ours float64
			for _, name := range o.stores {
				st, ok := all[name]
				if !ok {
					return fmt.Errorf("no store %q", name)
				}
				n, cpu, err := debits(ctx, st, workers, d, hot)
				if err != nil {
					return fmt.Errorf("%s debits: %w", name, err)
				}
				fmt.Printf("  %-8s %-22s %8.0f debits/s   %5.0f µs CPU each\n", name, label(hot), n, cpu)
				if name == "postgres" {
					ours = n
				}
			}
			tps, cpu, err := pgbench(ctx, pgURL, schema, workers, d, hot)
			if err != nil {
				return fmt.Errorf("pgbench: %w", err)
			}
			fmt.Printf("  %-8s %-22s %8.0f updates/s  %5.0f µs CPU each (UPDATE ... SET balance = balance - 1 WHERE id = :id)\n", "pgbench", label(hot), tps, cpu)
			if ours > 0 {
				fmt.Printf("  %-8s %-22s %8.2fx\n", "ratio", "postgres / pgbench", ours/tps)
			}
		}
	}
	if !o.export {
		return nil
	}

	fmt.Printf("export: %d CDRs\n", rows)
	if err := seedCDRs(ctx, schemaURL, rows); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("store: {url: %q}\n", schemaURL)), 0o600); err != nil {
		return err
	}
	// Each export runs three times, in turns, after a warm-up; the best run counts.
	exportCmd := func(format string) *exec.Cmd {
		return exec.Command(bin, "-c", cfg, "cdr", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--format", format, "--out", "/dev/null")
	}
	copyCmd := func() *exec.Cmd {
		return exec.Command("psql", schemaURL, "-q", "-c",
			`\copy (SELECT `+postgres.ExportSelect()+` FROM cdrs WHERE end_at >= '2000-01-01' AND end_at < '2100-01-01' ORDER BY end_at, id) TO '/dev/null' WITH (FORMAT csv, HEADER true)`)
	}
	if _, _, err := timeCmd(copyCmd()); err != nil {
		return fmt.Errorf("psql \\copy: %w", err)
	}
	runs := []struct {
		name string
		cmd  func() *exec.Cmd
		best time.Duration
		rss  float64
	}{
		{name: "dialtone cdr export csv", cmd: func() *exec.Cmd { return exportCmd("csv") }},
		{name: "psql \\copy of the same", cmd: copyCmd},
		{name: "dialtone cdr export jsonl", cmd: func() *exec.Cmd { return exportCmd("jsonl") }},
	}
	for range 3 {
		for i := range runs {
			el, rss, err := timeCmd(runs[i].cmd())
			if err != nil {
				return fmt.Errorf("%s: %w", runs[i].name, err)
			}
			if runs[i].best == 0 || el < runs[i].best {
				runs[i].best = el
			}
			runs[i].rss = max(runs[i].rss, rss)
		}
	}
	for _, r := range runs {
		fmt.Printf("  %-26s %6.2f s  %9.0f rows/s  peak RSS %5.1f MB (best of 3)\n", r.name, r.best.Seconds(), float64(rows)/r.best.Seconds(), r.rss)
	}
	fmt.Printf("  csv vs psql \\copy          %6.2fx\n", runs[1].best.Seconds()/runs[0].best.Seconds())
	fmt.Printf("  jsonl vs csv               %6.2fx\n", runs[0].best.Seconds()/runs[2].best.Seconds())
	return nil
}

func label(hot bool) string {
	if hot {
		return "one hot wallet"
	}
	return "1000 wallets"
}

// debits posts movements from wallets (or one wallet) for d with workers
// clients and returns movements per second and the machine's busy CPU
// time per movement in µs (see benchproc.MachineCPU).
func debits(ctx context.Context, st dialtone.Store, workers int, d time.Duration, hot bool) (float64, float64, error) {
	run := time.Now().UnixNano()
	const wallets = 1000
	for i := range wallets {
		m, err := dialtone.Transfer{Key: fmt.Sprintf("seed:%d:%d", run, i), Kind: "topup", Currency: "USD",
			From: dialtone.FundingAccount("USD"), To: dialtone.WalletAccount(int64(i)), Amount: decimal.NewFromInt(1_000_000)}.Movement()
		if err != nil {
			return 0, 0, err
		}
		if _, err := st.Post(ctx, m); err != nil {
			return 0, 0, err
		}
	}
	cpu := benchproc.MachineCPU()
	var n atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	cent := decimal.New(1, -2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				wallet := int64((w*7919 + i) % wallets)
				if hot {
					wallet = 0
				}
				m, err := dialtone.Transfer{Key: fmt.Sprintf("d:%d:%d:%d:%t", run, w, i, hot), Kind: "call", Currency: "USD",
					From: dialtone.WalletAccount(wallet), To: dialtone.CallRevenueAccount("USD"), Amount: cent}.Movement()
				if err == nil {
					_, err = st.Post(ctx, m)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	cpu = benchproc.MachineCPU() - cpu
	if err, ok := firstErr.Load().(error); ok {
		return 0, 0, err
	}
	return float64(n.Load()) / d.Seconds(), perOp(cpu, n.Load()), nil
}

// perOp is cpu per operation in µs.
func perOp(cpu time.Duration, ops int64) float64 {
	if ops == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(ops)
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+)`)

// pgbench runs the single-row update the debits are compared with and
// returns its updates per second and the machine's busy CPU time per
// update in µs.
func pgbench(ctx context.Context, pgURL, schema string, workers int, d time.Duration, hot bool) (float64, float64, error) {
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	table := schema + ".bench_accounts"
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (id int PRIMARY KEY, balance bigint NOT NULL);
		TRUNCATE `+table+`; INSERT INTO `+table+` SELECT g, 1000000000 FROM generate_series(1, 1000) g`); err != nil {
		return 0, 0, err
	}
	script := filepath.Join(os.TempDir(), fmt.Sprintf("billbench-%d.sql", os.Getpid()))
	id := `\set id random(1, 1000)`
	if hot {
		id = `\set id 1`
	}
	if err := os.WriteFile(script, []byte(id+"\nUPDATE "+table+" SET balance = balance - 1 WHERE id = :id;\n"), 0o600); err != nil {
		return 0, 0, err
	}
	defer os.Remove(script)
	u, _ := url.Parse(pgURL)
	cpu := benchproc.MachineCPU()
	out, err := exec.Command("pgbench", "-n", "-M", "prepared", "-c", strconv.Itoa(workers), "-j", "2",
		"-T", strconv.Itoa(int(d.Seconds())), "-f", script, "-h", u.Hostname(), "-p", u.Port(), "-U", u.User.Username(),
		u.Path[1:]).CombinedOutput()
	cpu = benchproc.MachineCPU() - cpu
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no tps in pgbench output: %s", out)
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return 0, 0, err
	}
	return tps, perOp(cpu, int64(tps*d.Seconds())), nil
}

// seedCDRs writes rows CDRs with COPY.
func seedCDRs(ctx context.Context, schemaURL string, rows int) error {
	conn, err := pgx.Connect(ctx, schemaURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var acct int64
	if err := conn.QueryRow(ctx, `INSERT INTO accounts (username, realm, ha1_md5, ha1_sha256, country, currency, status, created_at, updated_at)
		VALUES ('bench', 'dialtone', 'x', 'x', 'US', 'USD', 'active', now(), now()) RETURNING id`).Scan(&acct); err != nil {
		return err
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cols := []string{"id", "app_call_id", "carrier_call_id", "account_id", "account", "caller", "dialed_raw", "dialed_e164", "trunk",
		"setup_at", "ringing_at", "answer_at", "end_at", "duration_ms", "billed_seconds", "disposition", "sip_code", "sip_reason", "hangup_by",
		"app_codec", "carrier_codec", "app_packets", "app_lost", "carrier_packets", "carrier_lost",
		"currency", "rate_plan", "prefix", "destination", "number_type", "sell_rate", "price", "bundle_seconds", "buy_rate", "cost", "margin"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= rows {
			return nil, nil
		}
		i++
		end := start.Add(time.Duration(i) * 3 * time.Second)
		id := fmt.Sprintf("%08d-bench", i)
		return []any{id, "app-" + id, "carrier-" + id, acct, "bench", "+12015550123", "011442079460018", "+442079460018", "carrier1",
			end.Add(-95 * time.Second), end.Add(-93 * time.Second), end.Add(-90 * time.Second), end, int64(90000), int64(90),
			"ANSWERED", 200, "OK", "caller", "PCMA", "PCMA", int64(4500), int64(3), int64(4490), int64(0),
			"USD", "retail", "44", "United Kingdom", "fixed", int64(120000), int64(230000), int64(0), int64(30000), int64(45000), int64(185000)}, nil
	})
	began := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"cdrs"}, cols, src); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "ANALYZE cdrs"); err != nil {
		return err
	}
	fmt.Printf("  seeded %d CDRs in %.1f s\n", rows, time.Since(began).Seconds())
	return nil
}

// timeCmd runs c and returns its wall time and peak RSS in MB.
func timeCmd(c *exec.Cmd) (time.Duration, float64, error) {
	c.Stderr = os.Stderr
	began := time.Now()
	if err := c.Run(); err != nil {
		return 0, 0, err
	}
	el := time.Since(began)
	ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return el, 0, errors.New("no rusage")
	}
	return el, float64(ru.Maxrss) / 1024, nil
}

// freshSchema makes a schema for the run and returns a URL that uses it.
func freshSchema(ctx context.Context, base string) (string, string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", "", nil, fmt.Errorf("postgres %s: %w", base, err)
	}
	defer conn.Close(ctx)
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "billbench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", "", nil, err
	}
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("options", "-csearch_path="+schema) // understood by pgx and by psql
	u.RawQuery = q.Encode()
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	return schema, u.String(), drop, nil
}
