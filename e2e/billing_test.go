package e2e

import (
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// A sell plan and a buy deck with hand-checkable numbers.
const (
	retailDeck = `prefix,destination,rate,connect_fee,first_increment,next_increment,number_type
44,United Kingdom,0.12,0.05,30,6,
447,United Kingdom - Mobile,0.60,0,1,1,mobile
1,North America,0.60,0,1,1,
`
	carrierDeck = `prefix,destination,rate,first_increment,next_increment
44,UK,0.03,1,1
1,NANP,0.006,1,1
`
)

// billedSwitch is a switch with the retail plan and the carrier's buy deck
// imported, credit reserved every 2 s.
func billedSwitch(t *testing.T, store string, carrierPort int, extra string) *Switch {
	t.Helper()
	return billedSwitchWith(t, Options{Store: store, Trunks: []int{carrierPort}, Extra: extra})
}

// billedSwitchWith is billedSwitch from options of one's own.
func billedSwitchWith(t *testing.T, o Options) *Switch {
	t.Helper()
	o.BuyPlan, o.Billing = "carrier-buy", "interval: 2s, credit_lead: 1s, rates_cache_ttl: 0s"
	sw := startSwitch(t, o)
	importDecks(t, sw)
	return sw
}

// importDecks imports the retail plan and the carrier's buy deck into
// sw's store.
func importDecks(t *testing.T, sw *Switch) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"retail": retailDeck, "carrier-buy": carrierDeck} {
		path := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		sw.CLI("rates", "import", "--plan", name, path)
	}
}

func (sw *Switch) billedAccount(name, money string) {
	sw.t.Helper()
	sw.CLIEnv([]string{"DIALTONE_PASSWORD=secret"}, "account", "create", name, "--country", "US", "--plan", "retail")
	if money != "0" {
		sw.CLI("wallet", "topup", name, money, "--key", "initial-"+name)
	}
}

func (sw *Switch) wallet(name string) decimal.Decimal {
	sw.t.Helper()
	ctx := context.Background()
	a, err := sw.Store().AccountByUsername(ctx, name)
	if err != nil {
		sw.t.Fatal(err)
	}
	b, err := sw.Store().Balance(ctx, dialtone.WalletAccount(a.ID))
	if err != nil {
		sw.t.Fatal(err)
	}
	return b
}

func cdrOf(cdrs []*dialtone.CDR, account string) []*dialtone.CDR {
	var out []*dialtone.CDR
	for _, c := range cdrs {
		if c.Account == account {
			out = append(out, c)
		}
	}
	return out
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// TestBilledCall: a call to a UK landline is priced 30 s at 0.12/min plus
// 0.05 connect fee = 0.11, costs 0.03/min per second, and the money moves.
// A caller who cannot pay gets 402, a destination without a rate 403.
func TestBilledCall(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			carrierPort := freePort(t)
			sw := billedSwitch(t, store, carrierPort, "")
			sw.billedAccount("alice", "1.00")
			sw.billedAccount("broke", "0.04")
			rx := newReceiver(t)
			uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
			st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 3000, end: "bye"}, "011442079460018", 1, 1).Wait(30 * time.Second)
			if st.Successful != 1 {
				t.Fatalf("alice's call did not complete")
			}
			uas.Wait(10 * time.Second)
			if st := dialApp(t, sw, appCall{user: "broke", password: "secret", end: "402"}, "+442079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
				t.Errorf("a caller with 0.04 for a call costing 0.086 at least: want 402")
			}
			if st := dialApp(t, sw, appCall{user: "alice", password: "secret", end: "403"}, "+33142685300", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
				t.Errorf("a destination missing from the plan: want 403")
			}
			cdrs := sw.CDRs(3)
			mine := cdrOf(cdrs, "alice")
			var c *dialtone.CDR
			for _, x := range mine {
				if x.Disposition == dialtone.Answered {
					c = x
				}
			}
			if c == nil {
				t.Fatalf("no answered CDR for alice in %v", describe(cdrs))
			}
			secs := int64((c.Duration + time.Second - 1) / time.Second)
			cost := dec("0.03").Mul(decimal.NewFromInt(secs)).Div(decimal.NewFromInt(60)).RoundCeil(4)
			if c.BilledSeconds != 30 || !c.Price.Equal(dec("0.11")) || !c.SellRate.Equal(dec("0.12")) || c.Prefix != "44" ||
				c.Destination != "United Kingdom" || c.NumberType != "fixed" || c.RatePlan != "retail" || c.Currency != "USD" ||
				!c.BuyRate.Equal(dec("0.03")) || !c.Cost.Equal(cost) || !c.Margin.Equal(dec("0.11").Sub(cost)) {
				t.Errorf("CDR = billed %d, price %s, sell %s, prefix %s, %q, %s, plan %s, buy %s, cost %s (want %s), margin %s",
					c.BilledSeconds, c.Price, c.SellRate, c.Prefix, c.Destination, c.NumberType, c.RatePlan, c.BuyRate, c.Cost, cost, c.Margin)
			}
			if w := sw.wallet("alice"); !w.Equal(dec("0.89")) {
				t.Errorf("alice's wallet = %s, want 0.89", w)
			}
			if w := sw.wallet("broke"); !w.Equal(dec("0.04")) {
				t.Errorf("the refused caller's wallet = %s, want 0.04 untouched", w)
			}
			for _, x := range cdrOf(cdrs, "broke") {
				if x.SIPCode != 402 || !x.Price.IsZero() {
					t.Errorf("refused call CDR = %d %s, price %s", x.SIPCode, x.SIPReason, x.Price)
				}
			}
			if out := sw.CLI("ledger", "check"); !strings.Contains(out, "ok") {
				t.Errorf("ledger check: %s", out)
			}
		})
	}
}

// TestCreditCutoff: 0.05 at 0.60/min per second pays 5 s; the switch ends
// the call on both legs then and charges exactly 0.05.
func TestCreditCutoff(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			carrierPort := freePort(t)
			sw := billedSwitch(t, store, carrierPort, "")
			sw.billedAccount("alice", "0.05")
			rx := newReceiver(t)
			uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
			app := dialApp(t, sw, appCall{user: "alice", password: "secret", end: "wait-bye"}, "+447400123456", 1, 1)
			if st := app.Wait(30 * time.Second); st.Successful != 1 {
				t.Errorf("the app did not get the switch's BYE\n%s", app.Errors())
			}
			if st := uas.Wait(10 * time.Second); st.Successful != 1 {
				t.Errorf("the carrier did not get the switch's BYE\n%s", uas.Errors())
			}
			cdrs := sw.CDRs(1)
			if len(cdrs) != 1 {
				t.Fatalf("%d CDRs, want 1", len(cdrs))
			}
			c := cdrs[0]
			if c.HangupBy != dialtone.PartySwitch || c.BilledSeconds != 5 || !c.Price.Equal(dec("0.05")) || c.Duration < 4*time.Second || c.Duration > 7*time.Second {
				t.Errorf("CDR = hangup by %s, %v, billed %d, price %s; want switch, ~5 s, 5, 0.05", c.HangupBy, c.Duration, c.BilledSeconds, c.Price)
			}
			if w := sw.wallet("alice"); !w.IsZero() {
				t.Errorf("wallet = %s, want 0", w)
			}
			if got := sw.Metric("dialtone_credit_cutoffs_total"); got != 1 {
				t.Errorf("dialtone_credit_cutoffs_total = %v, want 1", got)
			}
		})
	}
}

// TestCrashSettlesOpenCalls: kill -9 with two calls up; after the restart
// each has exactly one CDR, charged up to its last confirmed point, and the
// ledger balances.
func TestCrashSettlesOpenCalls(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			carrierPort := freePort(t)
			sw := billedSwitch(t, store, carrierPort, "")
			sw.billedAccount("alice", "5.00")
			rx := newReceiver(t)
			uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 2)
			app := dialApp(t, sw, appCall{user: "alice", password: "secret", end: "wait-bye"}, "+447400123456", 2, 10)
			sw.waitActive(2, 15*time.Second)
			time.Sleep(3500 * time.Millisecond) // answered, and credit extended at least once
			sw.Kill()
			app.Stop()
			uas.Stop()
			if sw.store != nil {
				sw.store.Close()
				sw.store = nil
			}
			if cdrs := sw.CDRs(0); len(cdrs) != 0 {
				t.Fatalf("%d CDRs before the restart, want none (the calls were up)", len(cdrs))
			}
			sw.Start()
			cdrs := sw.CDRs(2)
			if len(cdrs) != 2 {
				t.Fatalf("%d CDRs after the restart, want 2", len(cdrs))
			}
			total := decimal.Zero
			for _, c := range cdrs {
				total = total.Add(c.Price)
				if c.Disposition != dialtone.Answered || c.HangupBy != dialtone.PartySwitch || c.BilledSeconds < 2 || c.BilledSeconds > 6 ||
					!c.Price.Equal(dec("0.01").Mul(decimal.NewFromInt(c.BilledSeconds))) {
					t.Errorf("recovered CDR = %s by %s, billed %d, price %s; want answered, switch, 2-6 s at 0.01/s", c.Disposition, c.HangupBy, c.BilledSeconds, c.Price)
				}
			}
			if w := sw.wallet("alice"); !w.Equal(dec("5").Sub(total)) {
				t.Errorf("wallet = %s, want 5 - %s charged", w, total)
			}
			if out := sw.CLI("ledger", "check"); !strings.Contains(out, "ok") {
				t.Errorf("ledger check: %s", out)
			}
			// A second restart settles nothing again.
			sw.Stop()
			sw.Start()
			if n := len(sw.CDRs(3)); n != 2 {
				t.Errorf("%d CDRs after a second restart, want still 2", n)
			}
		})
	}
}

// TestExportHTTP: finance pulls CDRs over HTTP with a bearer token; others
// cannot; a bad range is a clear 400.
func TestExportHTTP(t *testing.T) {
	const token = "finance-token-0123456789abcdef0123456789"
	carrierPort := freePort(t)
	sw := billedSwitch(t, "sqlite", carrierPort, fmt.Sprintf("api: {tokens: [{name: finance, role: finance, token: %q}]}\n", token))
	sw.billedAccount("alice", "1.00")
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 1000, end: "bye"}, "+442079460018", 1, 1).Wait(30 * time.Second)
	uas.Wait(10 * time.Second)
	sw.CDRs(1)
	get := func(query, tok string) (int, string, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/v1/cdrs?%s", sw.HTTPPort, query), nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(b)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format(time.DateOnly)
	code, ctype, body := get("from="+day+"&to="+tomorrow+"&format=csv", token)
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if code != 200 || !strings.HasPrefix(ctype, "text/csv") || len(lines) != 2 || !strings.Contains(lines[1], ",0.110000,") {
		t.Errorf("GET csv = %d %s\n%s", code, ctype, body)
	}
	if code, _, body := get("from="+day+"&to="+tomorrow+"&format=jsonl", token); code != 200 || !strings.Contains(body, `"price":"0.110000"`) {
		t.Errorf("GET jsonl = %d\n%s", code, body)
	}
	if code, _, _ := get("from="+day+"&to="+tomorrow, ""); code != 401 {
		t.Errorf("GET without a token = %d, want 401", code)
	}
	if code, _, _ := get("from="+day+"&to="+tomorrow, "wrong-token-wrong-token-wrong-token"); code != 401 {
		t.Errorf("GET with a wrong token = %d, want 401", code)
	}
	if code, _, body := get("from="+tomorrow+"&to="+day, token); code != 400 || !strings.Contains(body, "is not before") {
		t.Errorf("GET from > to = %d %s, want 400 naming the problem", code, body)
	}
	if code, _, _ := get("from="+day+"&to="+tomorrow+"&format=xml", token); code != 400 {
		t.Errorf("GET format=xml = %d, want 400", code)
	}
	out := filepath.Join(t.TempDir(), "cdrs.csv")
	sw.CLI("cdr", "export", "--from", day, "--to", tomorrow, "--out", out)
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), ",0.110000,") {
		t.Errorf("cdr export --out wrote:\n%s", b)
	}
	chart := filepath.Join(t.TempDir(), "summary.svg")
	if s := sw.CLI("cdr", "summary", "--from", day, "--to", tomorrow, "--chart", chart); !strings.Contains(s, ",carrier1,1,1,") {
		t.Errorf("cdr summary:\n%s", s)
	}
	if b, err := os.ReadFile(chart); err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "carrier1") {
		t.Errorf("chart %s: %v (%d bytes)", chart, err, len(b))
	}
	daily := filepath.Join(t.TempDir(), "daily.png")
	if s := sw.CLI("cdr", "summary", "--by", "day", "--from", day, "--to", tomorrow, "--chart", daily); !strings.HasPrefix(s, "day,calls,") ||
		!regexp.MustCompile(`\n`+day+`,1,1,[^\n]*,USD\n`).MatchString(s) {
		t.Errorf("cdr summary --by day:\n%s", s)
	}
	if f, err := os.Open(daily); err != nil {
		t.Errorf("daily chart: %v", err)
	} else {
		defer f.Close()
		if _, err := png.Decode(f); err != nil {
			t.Errorf("daily chart %s: %v", daily, err)
		}
	}
}
