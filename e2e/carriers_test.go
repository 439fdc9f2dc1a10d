package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dialtone/dialtone"
)

// blackHole is a carrier that is there but never answers: it reads SIP
// and says nothing (not even 100 Trying), not even to OPTIONS.
func blackHole(t *testing.T) int {
	t.Helper()
	port := freePort(t)
	pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return port
}

func answered(cdrs []*dialtone.CDR) []*dialtone.CDR {
	var out []*dialtone.CDR
	for _, c := range cdrs {
		if c.Disposition == dialtone.Answered {
			out = append(out, c)
		}
	}
	return out
}

// TestFailoverAcrossCarriers: carrier1 answers 503, carrier2 never answers,
// carrier3 answers. The call lands on carrier3 and its CDR names every
// attempt.
func TestFailoverAcrossCarriers(t *testing.T) {
	p1, p3 := freePort(t), freePort(t)
	p2 := blackHole(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{p1, p2, p3},
		Routes:     "  - {prefix: \"\", trunks: [carrier1, carrier2, carrier3]}\n",
		TrunkExtra: map[int]string{1: "invite_timeout: 2s"}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	c1 := runCarrier(t, carrier{answer: "503"}, p1, 1)
	c3 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p3, 1)
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 500, end: "bye"}, "+442079460018", 1, 1).Wait(30 * time.Second); st.Successful != 1 {
		t.Fatalf("the call did not reach the third carrier")
	}
	c1.Wait(5 * time.Second)
	c3.Wait(5 * time.Second)
	cdrs := sw.CDRs(1)
	if len(cdrs) != 1 {
		t.Fatalf("%d CDRs, want 1", len(cdrs))
	}
	if c := cdrs[0]; c.Trunk != "carrier3" || c.Attempts != "carrier1=503;carrier2=no-response;carrier3=200" {
		t.Errorf("CDR trunk %q, attempts %q; want carrier3 and carrier1=503;carrier2=no-response;carrier3=200", c.Trunk, c.Attempts)
	}
}

// TestRoutingByPrefixTypeAndCost: UK mobiles go to carrier2, other UK numbers
// to carrier1, and North America to whichever carrier's buy deck is cheaper
// for the number (carrier2).
func TestRoutingByPrefixTypeAndCost(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{p1, p2},
		Routes: "  - {prefix: \"44\", types: [mobile], trunks: [carrier2]}\n" +
			"  - {prefix: \"44\", trunks: [carrier1]}\n" +
			"  - {prefix: \"1\", least_cost: true, trunks: [carrier1, carrier2]}\n",
		TrunkExtra: map[int]string{0: "buy_plan: buy1", 1: "buy_plan: buy2"}})
	dir := t.TempDir()
	decks := map[string]string{
		"buy1": "prefix,destination,rate\n1,NANP,0.0090\n44,UK,0.0100\n",
		"buy2": "prefix,destination,rate\n1,NANP,0.0040\n447,UK mobile,0.0300\n",
	}
	for plan, body := range decks {
		path := dir + "/" + plan + ".csv"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		sw.CLI("rates", "import", "--plan", plan, path)
	}
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	c1 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p1, 1)
	c2 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p2, 2)
	for _, number := range []string{"+447400123456", "+442079460018", "+12125550100"} {
		if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}, number, 1, 1).Wait(30 * time.Second); st.Successful != 1 {
			t.Errorf("call to %s failed", number)
		}
	}
	c1.Wait(5 * time.Second)
	c2.Wait(5 * time.Second)
	want := map[string]string{"+447400123456": "carrier2", "+442079460018": "carrier1", "+12125550100": "carrier2"}
	cdrs := sw.CDRs(3)
	for _, c := range cdrs {
		if c.Trunk != want[c.DialedE164] {
			t.Errorf("%s went to %s, want %s (attempts %s)", c.DialedE164, c.Trunk, want[c.DialedE164], c.Attempts)
		}
	}
	if len(cdrs) != 3 {
		t.Errorf("%d CDRs, want 3", len(cdrs))
	}
}

// TestChannelLimit: a carrier limited to 2 channels takes 2 of 3
// simultaneous calls; the third goes to the next carrier.
func TestChannelLimit(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{p1, p2},
		Routes:     "  - {prefix: \"\", trunks: [carrier1, carrier2]}\n",
		TrunkExtra: map[int]string{0: "max_channels: 2"}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	c1 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p1, 3)
	c2 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p2, 3)
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 3000, end: "bye"}, "+442079460018", 3, 10).Wait(40 * time.Second); st.Successful != 3 {
		t.Errorf("%d of 3 calls completed", st.Successful)
	}
	c1.Stop()
	c2.Stop()
	byTrunk := map[string]int{}
	skipped := 0
	for _, c := range answered(sw.CDRs(3)) {
		byTrunk[c.Trunk]++
		if c.Attempts == "carrier1=skipped:full;carrier2=200" {
			skipped++
		}
	}
	if byTrunk["carrier1"] != 2 || byTrunk["carrier2"] != 1 || skipped != 1 {
		t.Errorf("calls per trunk %v, %d skipped carrier1 as full; want carrier1 2, carrier2 1, 1 skipped", byTrunk, skipped)
	}
}

// TestDeadCarrierMarkedDown: OPTIONS pings mark a silent carrier down; calls
// then skip it at once instead of waiting for it, and operators see why.
func TestDeadCarrierMarkedDown(t *testing.T) {
	dead, p2 := blackHole(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{dead, p2},
		Routes:     "  - {prefix: \"\", trunks: [carrier1, carrier2]}\n",
		TrunkExtra: map[int]string{0: "invite_timeout: 20s, options: {interval: 1s, timeout: 500ms, down_after: 2, up_after: 1}"}})
	sw.Account("alice", "secret")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(sw.CLI("trunks", "status"), "down") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	status := sw.CLI("trunks", "status")
	if !strings.Contains(status, "carrier1") || !strings.Contains(status, "down") || !strings.Contains(status, "OPTIONS: no answer") {
		t.Fatalf("trunks status does not show carrier1 down:\n%s", status)
	}
	if _, body := sw.HTTP("/metrics"); !strings.Contains(body, `dialtone_trunk_up{trunk="carrier1"} 0`) || !strings.Contains(body, `dialtone_trunk_up{trunk="carrier2"} 1`) {
		t.Errorf("metrics do not show carrier1 down and carrier2 up")
	}
	rx := newReceiver(t)
	c2 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p2, 1)
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}, "+442079460018", 1, 1).Wait(15 * time.Second); st.Successful != 1 {
		t.Fatalf("the call did not complete on carrier2 within 15 s (carrier1's invite_timeout is 20 s)")
	}
	c2.Wait(5 * time.Second)
	cdrs := sw.CDRs(1)
	if len(cdrs) != 1 || cdrs[0].Trunk != "carrier2" || cdrs[0].Attempts != "carrier1=skipped:down;carrier2=200" {
		t.Errorf("CDRs %v (attempts %q): want one on carrier2 that skipped carrier1 as down", describe(cdrs), cdrs[0].Attempts)
	}
}

// TestReloadRoutes: a reload (SIGHUP, or `dialtone reload`) swaps in new
// routes without dropping a call in progress; a configuration that does not
// validate is refused and the old one stays.
func TestReloadRoutes(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{p1, p2}, Routes: "  - {prefix: \"\", trunks: [carrier1]}\n"})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	c1 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p1, 1)
	long := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 4000, end: "bye"}, "+442079460018", 1, 1)
	sw.waitActive(1, 10*time.Second)
	cfg, err := os.ReadFile(sw.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	good := strings.Replace(string(cfg), "trunks: [carrier1]}", "trunks: [carrier2]}", 1)
	if good == string(cfg) {
		t.Fatal("route not found in the configuration")
	}
	bad := strings.Replace(good, "trunks: [carrier2]}", "trunks: [nowhere]}", 1)
	if err := os.WriteFile(sw.cfgPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = sw.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if out, err := exec.Command(binary, "-c", sw.cfgPath, "reload").CombinedOutput(); err == nil || !strings.Contains(string(out), "nothing sent") {
		t.Errorf("dialtone reload with a bad file = %v: %s; want a refusal", err, out)
	}
	if err := os.WriteFile(sw.cfgPath, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := sw.CLI("reload"); !strings.Contains(out, "reloaded") {
		t.Errorf("dialtone reload = %q", out)
	}
	c2 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, p2, 1)
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}, "+442079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("a call after the reload failed")
	}
	if st := long.Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("the call in progress did not survive the reload")
	}
	c1.Wait(5 * time.Second)
	c2.Wait(5 * time.Second)
	cdrs := sw.CDRs(2)
	var trunks []string
	for _, c := range cdrs {
		trunks = append(trunks, c.Trunk)
	}
	if len(cdrs) != 2 || !strings.Contains(strings.Join(trunks, ","), "carrier1") || !strings.Contains(strings.Join(trunks, ","), "carrier2") {
		t.Errorf("CDR trunks %v: want the first call on carrier1 and the one after the reload on carrier2", trunks)
	}
	log, _ := os.ReadFile(sw.dir + "/switch.log")
	if !strings.Contains(string(log), "reload refused") || !strings.Contains(string(log), "trunks and routes reloaded") {
		t.Errorf("the log does not show the refused and the accepted reload")
	}
}

// TestOutboundDigestAuth: a carrier that demands digest authentication
// gets the trunk's credentials; with a wrong password it refuses the call.
func TestOutboundDigestAuth(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{p1, p2},
		Routes: "  - {prefix: \"44\", trunks: [carrier1]}\n  - {prefix: \"1\", trunks: [carrier2]}\n",
		TrunkExtra: map[int]string{
			0: `username: trunkuser, password: "s3cret-pass"`,
			1: `username: trunkuser, password: "wrong"`,
		}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	good := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port, auth: "trunkuser:s3cret-pass"}, p1, 1)
	bad := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port, auth: "trunkuser:s3cret-pass"}, p2, 1)
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}, "+442079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("the call with the right credentials failed")
	}
	if st := good.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("the carrier did not accept the credentials\n%s", good.Errors())
	}
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", end: "403"}, "+12125550100", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("with a wrong password the carrier's 403 should reach the app")
	}
	bad.Wait(10 * time.Second)
	for _, c := range sw.CDRs(2) {
		switch c.DialedE164 {
		case "+442079460018":
			if c.Disposition != dialtone.Answered || c.Attempts != "carrier1=200" {
				t.Errorf("authenticated call: %s, attempts %q", c.Disposition, c.Attempts)
			}
		case "+12125550100":
			if c.SIPCode != 403 || c.Attempts != "carrier2=403" {
				t.Errorf("refused call: %d, attempts %q", c.SIPCode, c.Attempts)
			}
		}
	}
}

// registrarScenario is a carrier's registrar: it challenges each REGISTER,
// checks the digest answer and grants a short expiry (200) or refuses
// (403), twice: the registration and its refresh. sipp tells calls apart
// by Call-ID, so the refresh is only answered if it keeps the first
// REGISTER's Call-ID, as RFC 3261 section 10.2 wants.
var registrarScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="registrar">` + registrarRound("1") + registrarRound("2") + `
  <label id="end"/>
</scenario>
`

// registrarRound is one challenged REGISTER and its answer.
func registrarRound(n string) string {
	return strings.ReplaceAll(`
  <recv request="REGISTER"/>
  <send><![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]R[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="carrier.example", nonce="0a4f113b68df5b8a4b61dd3f1ecc6d2b{n}", algorithm=MD5
      Content-Length: 0

  ]]></send>
  <recv request="REGISTER" check_it="true">
    <action>
      <verifyauth assign_to="authvalid{n}" username="trunkuser" password="s3cret-pass"/>
    </action>
  </recv>
  <Reference variables="authvalid{n}"/>
  <nop hide="true" test="authvalid{n}" next="ok{n}"/>
  <send next="end"><![CDATA[
      SIP/2.0 403 Forbidden
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]R[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <label id="ok{n}"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]R[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Contact:]
      Expires: 10
      Content-Length: 0

  ]]></send>`, "{n}", n)
}

// TestOutboundRegister: the switch registers with a carrier that demands
// digest auth, and refreshes the registration before it expires, in the
// same binding (one Call-ID).
func TestOutboundRegister(t *testing.T) {
	p1 := freePort(t)
	reg := startSipp(t, registrarScenario, "-p", strconv.Itoa(p1), "-m", "1")
	time.Sleep(200 * time.Millisecond)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{p1},
		TrunkExtra: map[int]string{0: `username: trunkuser, password: "s3cret-pass", register: {enabled: true, expires: 60s}`}})
	if st := reg.Wait(30 * time.Second); st.Successful != 1 {
		t.Errorf("the registrar saw %d good bindings, want 1 (the first registration and a refresh after the granted 10 s, on one Call-ID)\n%s", st.Successful, reg.Errors())
	}
	if status := sw.CLI("trunks", "status"); !strings.Contains(status, "registered until") {
		t.Errorf("trunks status does not show the registration:\n%s", status)
	}
}

// TestCarrierAddresses: a carrier with two addresses, the first silent, is
// reached at the second.
func TestCarrierAddresses(t *testing.T) {
	dead, live := blackHole(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{0},
		TrunkExtra: map[int]string{0: fmt.Sprintf(`addresses: ["127.0.0.1:%d", "127.0.0.1:%d"], invite_timeout: 1s`, dead, live)}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	c := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, live, 1)
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}, "+442079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Fatalf("the call did not reach the carrier's second address")
	}
	c.Wait(5 * time.Second)
	if cdrs := sw.CDRs(1); len(cdrs) != 1 || cdrs[0].Attempts != "carrier1=no-response;carrier1=200" {
		t.Errorf("CDRs %v: want attempts carrier1=no-response;carrier1=200", describe(cdrs))
	}
	if status := sw.CLI("trunks", "status"); !strings.Contains(status, fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", dead, live)) {
		t.Errorf("trunks status:\n%s", status)
	}
}

// TestCarrierPolicyAndBadAnswer: the first carrier answers 200 without SDP
// (it gets ACK and BYE and the call fails over); the second must see the
// configured Request-URI rewriting, caller ID, privacy and extra headers.
func TestCarrierPolicyAndBadAnswer(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{p1, p2},
		Routes:     "  - {prefix: \"\", trunks: [carrier1, carrier2]}\n",
		TrunkExtra: map[int]string{1: `rewrite: {strip: 2, prefix: "0", tech_prefix: "77#"}, caller_id: {from: "12025550100", privacy: true}, headers: {X-Account: "acme-42"}`}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	c1 := runCarrier(t, carrier{answer: "200nosdp"}, p1, 1)
	c2 := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port, expect: []string{
		`INVITE sip:77#02079460018@`,
		`From: .Anonymous. .sip:anonymous@anonymous[.]invalid`,
		`P-Asserted-Identity: .sip:12025550100@`,
		`Privacy: id`,
		`X-Account: acme-42`,
	}}, p2, 1)
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}, "+442079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("the call did not complete on the second carrier")
	}
	if st := c1.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("the carrier that answered without SDP did not get ACK and BYE\n%s", c1.Errors())
	}
	if st := c2.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("the second carrier did not see the configured INVITE\n%s", c2.Errors())
	}
	if cdrs := sw.CDRs(1); len(cdrs) != 1 || cdrs[0].Attempts != "carrier1=200:unusable-sdp;carrier2=200" || cdrs[0].Trunk != "carrier2" {
		t.Errorf("CDRs %v (attempts %q): want one on carrier2 with attempts carrier1=200:unusable-sdp;carrier2=200", describe(cdrs), cdrs[0].Attempts)
	}
}

// TestCarrierSRV: a carrier given by a domain is found through DNS SRV
// (RFC 3263): its servers are tried by priority, so a silent first one
// moves the call to the second.
func TestCarrierSRV(t *testing.T) {
	dead, live := blackHole(t), freePort(t)
	dnsPort := freePort(t)
	mux := dns.NewServeMux()
	mux.HandleFunc("carrier.test.", func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		q := req.Question[0]
		switch {
		case q.Qtype == dns.TypeSRV && q.Name == "_sip._udp.carrier.test.":
			for _, rr := range []string{
				fmt.Sprintf("_sip._udp.carrier.test. 60 IN SRV 10 10 %d dead.carrier.test.", dead),
				fmt.Sprintf("_sip._udp.carrier.test. 60 IN SRV 20 10 %d live.carrier.test.", live),
			} {
				r, _ := dns.NewRR(rr)
				m.Answer = append(m.Answer, r)
			}
		case q.Qtype == dns.TypeA && (q.Name == "dead.carrier.test." || q.Name == "live.carrier.test."):
			r, _ := dns.NewRR(q.Name + " 60 IN A 127.0.0.1")
			m.Answer = append(m.Answer, r)
		}
		_ = w.WriteMsg(m)
	})
	server := &dns.Server{Addr: fmt.Sprintf("127.0.0.1:%d", dnsPort), Net: "udp", Handler: mux}
	go server.ListenAndServe()
	t.Cleanup(func() { server.Shutdown() })
	time.Sleep(100 * time.Millisecond)

	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{0}, SIPExtra: fmt.Sprintf("dns_server: \"127.0.0.1:%d\"", dnsPort),
		TrunkExtra: map[int]string{0: `srv: carrier.test, invite_timeout: 1s`}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	c := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, live, 1)
	if st := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 200, end: "bye"}, "+442079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Fatalf("the call did not reach the carrier's second SRV target")
	}
	c.Wait(5 * time.Second)
	if cdrs := sw.CDRs(1); len(cdrs) != 1 || cdrs[0].Attempts != "carrier1=no-response;carrier1=200" {
		t.Errorf("CDRs %v: want attempts carrier1=no-response;carrier1=200", describe(cdrs))
	}
	if status := sw.CLI("trunks", "status"); !strings.Contains(status, "srv:carrier.test") {
		t.Errorf("trunks status:\n%s", status)
	}
}
