package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
	"github.com/dialtone/dialtone/switch/digest"
)

// limitsDeck prices what the limits are tried on: France with a connect
// fee that makes one short call spend 0.51, a UK landline dearer than the
// default highest rate (1.00 a minute), UK mobiles and North America below it.
const limitsDeck = `prefix,destination,rate,connect_fee,first_increment,next_increment,number_type
1,North America,0.60,0,1,1,
33,France,0.60,0.50,1,1,
44,United Kingdom,1.50,0,1,1,
447,United Kingdom - Mobile,0.60,0,1,1,mobile
`

const operatorToken = "operator-e2e-token-0123456789abcdef0123"

// lift are the flags that lift every limit of an account but those a subtest sets after them.
var lift = []string{"--concurrent", "unlimited", "--calls-per-minute", "unlimited", "--spend-hour", "unlimited",
	"--spend-day", "unlimited", "--max-rate", "unlimited", "--countries", "*", "--number-types", "mobile,fixed,toll_free,premium,other"}

// TestAccountLimits: 50 calls placed within a second by one account meet
// each of its limits on a switch running the shipped defaults (an empty
// limits section). Exactly the calls a limit allows reach the carrier; the others
// are answered 403 with a Warning naming the limit, get a CDR saying so,
// and are counted by limit in dialtone_calls_refused_total. Spending is
// read from the store, so it still counts after a restart. The ledger
// balances at the end.
func TestAccountLimits(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			carrierPort := freePort(t)
			// Premium-rate numbers are carried only by a route that names them.
			routes := "  - {prefix: \"\", trunks: [carrier1]}\n  - {prefix: \"1900\", types: [premium], trunks: [carrier1]}\n"
			sw := startSwitch(t, Options{Store: store, Trunks: []int{carrierPort}, Routes: routes, Extra: "limits: {}\napi: {tokens: [{name: noc, role: operator, token: " + operatorToken + "}]}\n",
				Billing: "interval: 2s, credit_lead: 1s, rates_cache_ttl: 0s"})
			deck := filepath.Join(t.TempDir(), "limits.csv")
			if err := os.WriteFile(deck, []byte(limitsDeck), 0o600); err != nil {
				t.Fatal(err)
			}
			sw.CLI("rates", "import", "--plan", "limits", deck)
			// account makes a caller on the limits plan with 20.00 and its own
			// limits (flags of dialtone account limits). The store is written
			// directly, as the CLI would: each run of the race-built binary
			// takes a second; the CLI and the API are used below where they
			// are what is tried.
			ctx := context.Background()
			account := func(t *testing.T, name string, limits ...string) {
				t.Helper()
				a := &dialtone.Account{Username: name, Realm: "dialtone", Country: "US", Currency: "USD", RatePlan: "limits", Status: dialtone.AccountActive,
					HA1MD5: digest.HA1(digest.MD5, name, "dialtone", "secret"), HA1SHA256: digest.HA1(digest.SHA256, name, "dialtone", "secret")}
				if err := sw.Store().CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				// SIP signs in with a device: the one named after the account, as `account create` makes it.
				d := &dialtone.Device{AccountID: a.ID, Account: name, Name: name, Username: name, Realm: "dialtone", HA1MD5: a.HA1MD5, HA1SHA256: a.HA1SHA256}
				if err := sw.Store().CreateDevice(ctx, d); err != nil {
					t.Fatal(err)
				}
				storetest.TopUp(t, sw.Store(), a.ID, "20.00")
				var s dialtone.LimitSettings
				for i := 0; i+1 < len(limits); i += 2 {
					switch v := limits[i+1]; limits[i] {
					case "--concurrent":
						s.Concurrent = dialtone.Setting(v)
					case "--calls-per-minute":
						s.PerMinute = dialtone.Setting(v)
					case "--spend-hour":
						s.SpendHour = dialtone.Setting(v)
					case "--spend-day":
						s.SpendDay = dialtone.Setting(v)
					case "--max-rate":
						s.MaxRate = dialtone.Setting(v)
					case "--countries":
						s.Countries = strings.Split(v, ",")
					case "--number-types":
						s.NumberTypes = strings.Split(v, ",")
					}
				}
				l, err := s.Limits(false)
				if err != nil {
					t.Fatal(err)
				}
				if err := sw.Store().SetAccountLimits(ctx, a.ID, l); err != nil {
					t.Fatal(err)
				}
			}
			refused := map[dialtone.Limit]int{} // since the switch started
			checkMetrics := func(t *testing.T) {
				t.Helper()
				for _, l := range dialtone.AllLimits {
					name := fmt.Sprintf("dialtone_calls_refused_total{reason=%q}", l)
					if got := sw.Metric(name); got != float64(refused[l]) {
						t.Errorf("%s = %v, want %d", name, got, refused[l])
					}
				}
			}

			// burst places calls calls from user to number within a second, each held
			// holdMS when answered; it returns how many INVITEs the carrier saw.
			burst := func(t *testing.T, user, number string, calls, holdMS int, limit dialtone.Limit) int {
				t.Helper()
				rx := newReceiver(t)
				uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, calls)
				uac := startSipp(t, limitedCall(user, holdMS, limit), fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-s", number,
					"-p", fmt.Sprint(freePort(t)), "-mp", fmt.Sprint(sippMediaPort(t)),
					"-m", fmt.Sprint(calls), "-r", fmt.Sprint(calls), "-rp", "1000", "-l", fmt.Sprint(calls))
				if st := uac.Wait(60 * time.Second); !st.ExitOK || st.Successful != calls {
					t.Errorf("%s: app sipp %d of %d calls went as expected (answered, or 403 naming %s)\n%s", user, st.Successful, calls, limit, uac.Errors())
				}
				return uas.Stop().Created
			}
			// outcomes counts the CDRs of user: answered, and refused naming
			// limit or (calls of earlier checks) another.
			outcomes := func(t *testing.T, user string, limit dialtone.Limit) (answered, over int) {
				t.Helper()
				for _, c := range cdrOf(sw.CDRs(0), user) {
					switch {
					case c.Disposition == dialtone.Answered:
						answered++
					case c.SIPCode == 403 && strings.Contains(c.SIPReason, "limit") && c.Price.IsZero() && c.Trunk == "":
						if strings.Contains(c.SIPReason, string(limit)) {
							over++
						}
					default:
						t.Errorf("%s: CDR %d %q %s, want answered or 403 naming %s", user, c.SIPCode, c.SIPReason, c.Disposition, limit)
					}
				}
				return answered, over
			}
			check := func(t *testing.T, user, number string, calls, holdMS, allowed int, limit dialtone.Limit) {
				t.Helper()
				answered0, over0 := outcomes(t, user, limit)
				calls0 := answered0 + over0
				if got := burst(t, user, number, calls, holdMS, limit); got != allowed {
					t.Errorf("%s: the carrier got %d INVITEs, want %d", user, got, allowed)
				}
				deadline := time.Now().Add(10 * time.Second)
				answered, over := outcomes(t, user, limit)
				for answered+over < calls0+calls && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
					answered, over = outcomes(t, user, limit)
				}
				answered, over = answered-answered0, over-over0
				if answered != allowed || over != calls-allowed {
					t.Errorf("%s: %d calls answered and %d refused by %s, want %d and %d", user, answered, over, limit, allowed, calls-allowed)
				}
				refused[limit] += calls - allowed
			}

			t.Run("default concurrent calls", func(t *testing.T) {
				sw.CLIEnv([]string{"DIALTONE_PASSWORD=secret"}, "account", "create", "plain", "--country", "US", "--plan", "limits")
				sw.CLI("wallet", "topup", "plain", "20.00")
				check(t, "plain", "+12025550100", 50, 2500, 2, dialtone.LimitConcurrent) // the shipped defaults: 2 at once
			})
			t.Run("concurrent calls", func(t *testing.T) {
				account(t, "pbx")
				out := sw.CLI(append(append([]string{"account", "limits", "pbx"}, lift...), "--concurrent", "5")...)
				if !regexp.MustCompile(`concurrent_calls\s+5\s+account\n`).MatchString(out) || !regexp.MustCompile(`spend_hour\s+unlimited\s+account\n`).MatchString(out) {
					t.Errorf("dialtone account limits pbx --concurrent 5 ... said:\n%s", out)
				}
				check(t, "pbx", "+12025550100", 50, 2500, 5, dialtone.LimitConcurrent)
			})
			t.Run("calls per minute", func(t *testing.T) {
				account(t, "dialer")
				// An operator sets this one over the API.
				body := `{"concurrent_calls": "unlimited", "calls_per_minute": 7, "spend_hour": "unlimited", "spend_day": "unlimited",
					"max_rate": "unlimited", "countries": ["*"], "number_types": ["mobile", "fixed", "toll_free", "premium", "other"]}`
				req, _ := http.NewRequest("PUT", fmt.Sprintf("http://127.0.0.1:%d/api/v1/accounts/dialer/limits", sw.HTTPPort), strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+operatorToken)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				reply, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || !strings.Contains(string(reply), `"calls_per_minute":"7"`) {
					t.Fatalf("PUT limits of dialer = %d %s", res.StatusCode, reply)
				}
				check(t, "dialer", "+12025550100", 50, 200, 7, dialtone.LimitPerMinute)
			})
			t.Run("spend per hour and day", func(t *testing.T) {
				account(t, "spender", append(lift, "--spend-hour", "0.50")...)
				account(t, "daily", append(lift, "--spend-day", "0.50")...)
				// One call spends 0.51 (0.50 to connect, 1 s at 0.60); then nothing more goes through.
				check(t, "spender", "+33142685300", 1, 200, 1, dialtone.LimitSpendHour)
				check(t, "spender", "+33142685300", 50, 200, 0, dialtone.LimitSpendHour)
				check(t, "daily", "+33142685300", 1, 200, 1, dialtone.LimitSpendDay)
				// What was spent is read from the store: a restart forgets nothing.
				checkMetrics(t)
				sw.Stop()
				sw.Start()
				clear(refused)
				check(t, "daily", "+33142685300", 20, 200, 0, dialtone.LimitSpendDay)
				check(t, "spender", "+33142685300", 20, 200, 0, dialtone.LimitSpendHour)
				// A limit raised by the operator lets the account call again.
				sw.CLI("account", "limits", "spender", "--spend-hour", "5.00")
				check(t, "spender", "+447400123456", 1, 200, 1, dialtone.LimitSpendHour)
			})
			t.Run("max rate", func(t *testing.T) {
				account(t, "pricey", "--concurrent", "unlimited", "--calls-per-minute", "unlimited") // the default 1.00 a minute
				check(t, "pricey", "+442079460018", 50, 200, 0, dialtone.LimitMaxRate)               // 1.50 a minute
				check(t, "pricey", "+447400123456", 1, 200, 1, dialtone.LimitMaxRate)                // 0.60 a minute
			})
			t.Run("country", func(t *testing.T) {
				account(t, "local", append(lift, "--countries", "US,CA")...)
				check(t, "local", "+447400123456", 50, 200, 0, dialtone.LimitCountry)
				check(t, "local", "+12025550100", 1, 200, 1, dialtone.LimitCountry)
			})
			t.Run("number type", func(t *testing.T) {
				account(t, "nopremium", "--concurrent", "unlimited", "--calls-per-minute", "unlimited") // mobile, fixed, toll_free
				check(t, "nopremium", "+19002345678", 50, 200, 0, dialtone.LimitNumberType)             // US premium rate
			})

			checkMetrics(t)
			if out := sw.CLI("ledger", "check"); !strings.Contains(out, "ok") {
				t.Errorf("ledger check: %s", out)
			}
		})
	}
}

// limitedCall is the app's scenario for calls of which some are answered
// (then held for holdMS and hung up) and the others refused with 403 and a
// Warning that names limit (anything else fails the call).
func limitedCall(user string, holdMS int, limit dialtone.Limit) string {
	s := appCall{user: user, password: "secret", holdMS: holdMS, end: "bye"}.scenario()
	refusal := fmt.Sprintf(`  <recv response="403" optional="true" response_txn="inv2" next="refused">
    <action>
      <ereg regexp="399 127\.0\.0\.[0-9]+ .%s: " search_in="hdr" header="Warning:" check_it="true" assign_to="warning"/>
    </action>
  </recv>
  <Reference variables="warning"/>
  <recv response="200" rrs="true" response_txn="inv2"/>
`, limit)
	s = strings.Replace(s, `  <recv response="200" rrs="true" response_txn="inv2"/>
`, refusal, 1)
	s = strings.Replace(s, `  <recv response="200" crlf="true"/>
</scenario>`, fmt.Sprintf(`  <recv response="200" crlf="true" next="done"/>
  <label id="refused"/>
  <send ack_txn="inv2"><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:%s@[remote_ip]>;tag=[pid]A[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <label id="done"/>
</scenario>`, user), 1)
	return s
}
