package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// minuteDeck bills whole minutes: 0.10 a minute, 60/60, so 0.30 pays three
// first increments and no more.
const minuteDeck = `prefix,destination,rate,connect_fee,first_increment,next_increment,number_type
44,United Kingdom,0.10,0,60,60,
`

// eitherScenario is an app call that ends well either way: answered (then
// held and hung up) or refused with refusal, which it acknowledges.
func eitherScenario(a appCall, refusal string) string {
	s := a.scenario()
	s = strings.Replace(s, `  <recv response="200" rrs="true" response_txn="inv2"/>
`, `  <recv response="`+refusal+`" optional="true" response_txn="inv2" next="refused"/>
  <recv response="200" rrs="true" response_txn="inv2"/>
`, 1)
	s = strings.Replace(s, `  <recv response="200" crlf="true"/>
</scenario>`, `  <recv response="200" crlf="true" next="done"/>
  <label id="refused"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:`+a.user+`@[remote_ip]>;tag=[pid]A[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <label id="done"/>
</scenario>`, 1)
	return s
}

// TestCreditBeforeCarrier: no call reaches a carrier unpaid. 20 calls at
// once from a wallet that pays three minutes: the carrier sees at most
// three INVITEs, the others get 402, and the money adds up. An account
// without a rate plan is refused with 403 "no rate plan" and the carrier
// sees nothing.
func TestCreditBeforeCarrier(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			carrierPort := freePort(t)
			sw := startSwitch(t, Options{Store: store, Trunks: []int{carrierPort}, MediaPorts: 200,
				Billing: "unbilled: refuse, rates_cache_ttl: 0s"})
			deck := filepath.Join(t.TempDir(), "minute.csv")
			if err := os.WriteFile(deck, []byte(minuteDeck), 0o600); err != nil {
				t.Fatal(err)
			}
			sw.CLI("rates", "import", "--plan", "minute", deck)
			sw.CLIEnv([]string{"DIALTONE_PASSWORD=secret"}, "account", "create", "alice", "--country", "US", "--plan", "minute")
			sw.CLI("wallet", "topup", "alice", "0.30", "--key", "initial-alice")
			sw.Account("bob", "secret") // no plan, and billing.default_plan is empty

			// Without a plan: refused before any carrier is tried.
			rx := newReceiver(t)
			uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
			refused := strings.Replace(appCall{user: "bob", password: "secret", end: "403"}.scenario(),
				`  <recv response="403" response_txn="inv2"/>
`, `  <recv response="403" response_txn="inv2">
    <action>
      <ereg regexp="no rate plan" search_in="hdr" header="Warning:" check_it="true" assign_to="warning"/>
    </action>
  </recv>
  <Reference variables="warning"/>
`, 1)
			bob := startSipp(t, refused, "127.0.0.1:"+strconv.Itoa(sw.SIPPort), "-s", "+442079460018", "-p", strconv.Itoa(freePort(t)),
				"-mp", strconv.Itoa(sippMediaPort(t)), "-m", "1")
			if st := bob.Wait(20 * time.Second); st.Successful != 1 {
				t.Errorf("bob's call: want 403 with a Warning saying no rate plan\n%s", bob.Errors())
			}
			if cs := uas.Stop(); cs.Created != 0 {
				t.Errorf("the carrier got %d INVITEs for an account without a plan, want 0", cs.Created)
			}

			// 20 at once on 0.30: three first minutes are paid.
			const calls = 20
			uas = runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, calls)
			app := startSipp(t, eitherScenario(appCall{user: "alice", password: "secret", holdMS: 2000, end: "bye"}, "402"),
				"127.0.0.1:"+strconv.Itoa(sw.SIPPort), "-s", "+442079460018", "-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)),
				"-m", strconv.Itoa(calls), "-r", strconv.Itoa(calls), "-l", strconv.Itoa(calls))
			if st := app.Wait(60 * time.Second); st.Successful != calls {
				t.Errorf("app sipp: %d of %d calls answered or refused with 402\n%s", st.Successful, calls, app.Errors())
			}
			cdrs := cdrOf(sw.CDRs(calls+1), "alice") // every call has ended
			cs := uas.Stop()
			if cs.Created > 3 {
				t.Errorf("the carrier got %d INVITEs, want at most the 3 that are paid", cs.Created)
			}
			answered, paymentRequired := 0, 0
			for _, c := range cdrs {
				switch {
				case c.Disposition == dialtone.Answered:
					answered++
					if c.BilledSeconds != 60 || !c.Price.Equal(dec("0.1")) {
						t.Errorf("answered CDR billed %d s, price %s; want 60, 0.10", c.BilledSeconds, c.Price)
					}
				case c.SIPCode == 402:
					paymentRequired++
					if c.BilledSeconds != 0 || !c.Price.IsZero() || !c.AnswerAt.IsZero() {
						t.Errorf("refused CDR billed %d s, price %s, answered %v; want nothing", c.BilledSeconds, c.Price, c.AnswerAt)
					}
				default:
					t.Errorf("CDR %s: %s %d %s, want answered or 402", c.ID, c.Disposition, c.SIPCode, c.SIPReason)
				}
			}
			t.Logf("%d calls at once on 0.30: the carrier got %d INVITEs, %d answered, %d refused with 402", calls, cs.Created, answered, paymentRequired)
			if answered > 3 || answered != cs.Created || answered+paymentRequired != calls {
				t.Errorf("%d answered and %d refused with 402 of %d CDRs (the carrier got %d INVITEs), want at most 3 answered, the rest 402",
					answered, paymentRequired, len(cdrs), cs.Created)
			}
			if want := dec("0.30").Sub(dec("0.1").Mul(decimal.NewFromInt(int64(answered)))); !sw.wallet("alice").Equal(want) {
				t.Errorf("alice's wallet = %s, want %s after %d paid minutes", sw.wallet("alice"), want, answered)
			}
			for _, c := range cdrOf(sw.CDRs(calls+1), "bob") {
				if c.SIPCode != 403 || c.SIPReason != "Forbidden: no rate plan" || !c.Price.IsZero() || c.BilledSeconds != 0 {
					t.Errorf("bob's CDR = %d %q, billed %d s, price %s; want 403 no rate plan, nothing billed", c.SIPCode, c.SIPReason, c.BilledSeconds, c.Price)
				}
			}
			if open, err := sw.Store().OpenSessions(t.Context(), "e2e"); err != nil || len(open) != 0 {
				t.Errorf("OpenSessions() = %d, %v; want every call settled", len(open), err)
			}
			if out := sw.CLI("ledger", "check"); !strings.Contains(out, "ok") {
				t.Errorf("ledger check: %s", out)
			}
		})
	}
}

// TestCreditOpenSignupNeedsAPlan: a switch with open sign-up and no plan for
// the new accounts does not start, and says which keys to set.
func TestCreditOpenSignupNeedsAPlan(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dialtone.yaml")
	body := "store: {url: \"sqlite://" + filepath.Join(dir, "dialtone.db") + "\"}\napi: {signup: open}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "-c", cfg, "serve").CombinedOutput()
	if err == nil {
		t.Fatalf("dialtone serve with open sign-up and no plan started:\n%s", out)
	}
	for _, key := range []string{"api.signup", "billing.default_plan", "billing.unbilled"} {
		if !strings.Contains(string(out), key) {
			t.Errorf("dialtone serve refused without naming %s:\n%s", key, out)
		}
	}
}
