package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// TestCallerIDSpoofRefused: an app that writes a number other than its
// account's verified one in its From is refused with 403 and a Warning,
// in any spelling of that number, and the carrier gets no INVITE.
func TestCallerIDSpoofRefused(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	sw.CLI("account", "callerid", "alice", "+12025550142")
	uas := runCarrier(t, carrier{answer: "486"}, carrierPort, 1)
	spoofs := []string{"+12125550199", "0012125550199", "2125550199", "%2B12125550199", "+442079460018"}
	for _, from := range spoofs {
		app := dialApp(t, sw, appCall{user: "alice", password: "secret", from: from, end: "403", warning: "caller ID not allowed"}, "+442079460018", 1, 1)
		mustPass(t, "app presenting "+from+" (want 403 with a Warning)", app, 30*time.Second)
	}
	if st := uas.Stop(); st.Created != 0 {
		t.Errorf("the carrier saw %d INVITEs for spoofed callers, want none", st.Created)
	}
	cdrs := sw.CDRs(len(spoofs))
	if len(cdrs) != len(spoofs) {
		t.Fatalf("%d CDRs, want %d", len(cdrs), len(spoofs))
	}
	for _, c := range cdrs {
		if c.SIPCode != 403 || c.Disposition != dialtone.Failed || c.Trunk != "" || c.Attempts != "" {
			t.Errorf("CDR of caller %q: %d %s trunk %q attempts %q, want 403 and no carrier", c.Caller, c.SIPCode, c.Disposition, c.Trunk, c.Attempts)
		}
	}
	if n := sw.Metric(`dialtone_calls_refused_total{reason="caller_id"}`); n != float64(len(spoofs)) {
		t.Errorf("dialtone_calls_refused_total{reason=caller_id} = %v, want %d", n, len(spoofs))
	}
}

// TestCallerIDPresented: the carrier is told the account's verified number
// (in From and P-Asserted-Identity), whatever spelling of it the app used;
// a trunk's fixed caller_id.from wins over it; an account without a
// verified number goes out anonymous.
func TestCallerIDPresented(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{p1, p2},
		SIPExtra: "account_cache_ttl: 0s", // the account is read at each call: a changed number counts at once
		Routes:   "  - {prefix: \"44\", trunks: [carrier1]}\n  - {prefix: \"1\", trunks: [carrier2]}\n",
		TrunkExtra: map[int]string{
			0: `caller_id: {pai: true}`,
			1: `caller_id: {from: "12025550100", pai: true}`,
		}})
	sw.Account("alice", "secret")
	sw.Account("bob", "secret")
	if out := sw.CLI("account", "callerid", "alice", "(202) 555-0142"); !strings.Contains(out, "+12025550142") {
		t.Errorf("account callerid: %q, want the number in E.164", out)
	}
	if out := sw.CLI("account", "show", "alice"); !strings.Contains(out, "+12025550142") {
		t.Errorf("account show does not give the caller ID:\n%s", out)
	}

	c1 := runCarrier(t, carrier{answer: "486", expect: []string{
		`From: .sip:[+]12025550142@`,
		`P-Asserted-Identity: .sip:[+]12025550142@`,
	}}, p1, 1)
	mustPass(t, "alice presenting her number nationally", dialApp(t, sw,
		appCall{user: "alice", password: "secret", from: "2025550142", end: "486"}, "+442079460018", 1, 1), 30*time.Second)
	mustPass(t, "carrier1 (want the verified number)", c1, 10*time.Second)

	c2 := runCarrier(t, carrier{answer: "486", expect: []string{
		`From: .sip:12025550100@`,
		`P-Asserted-Identity: .sip:12025550100@`,
	}}, p2, 1)
	mustPass(t, "alice through the fixed-number trunk", dialApp(t, sw,
		appCall{user: "alice", password: "secret", end: "486"}, "+12125550100", 1, 1), 30*time.Second)
	mustPass(t, "carrier2 (want its fixed number)", c2, 10*time.Second)

	c3 := runCarrier(t, carrier{answer: "486", expect: []string{
		`From: .Anonymous. .sip:anonymous@anonymous[.]invalid`,
	}}, p1, 1)
	mustPass(t, "bob, no verified number", dialApp(t, sw,
		appCall{user: "bob", password: "secret", end: "486"}, "+442079460018", 1, 1), 30*time.Second)
	mustPass(t, "carrier1 (want an anonymous From)", c3, 10*time.Second)

	// Taking the number away: alice's own number is now a spoof.
	sw.CLI("account", "callerid", "alice", "")
	mustPass(t, "alice after her number was removed", dialApp(t, sw,
		appCall{user: "alice", password: "secret", from: "+12025550142", end: "403", warning: "caller ID not allowed"}, "+442079460018", 1, 1), 30*time.Second)
}

// TestBlockedDestinations: a number in a blocked range is refused with 403
// and a Warning naming the block however it is written in the Request-URI,
// and the carrier gets no INVITE; an allowed part of a blocked range is
// called.
func TestBlockedDestinations(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort},
		Extra: "destinations: {block: {prefixes: [\"+4470\"]}, allow: {prefixes: [\"+8816\"]}}\n"})
	sw.Account("alice", "secret")
	uas := runCarrier(t, carrier{answer: "486", expect: []string{`INVITE sip:881631234567@`}}, carrierPort, 1)

	// sipp as the app: 011 is the US international prefix.
	mustPass(t, "app dialing 011882...", dialApp(t, sw,
		appCall{user: "alice", password: "secret", end: "403", warning: "destination blocked. prefix .882"}, "0118821612345678", 1, 1), 30*time.Second)

	ua := newRawUA(t, "127.0.0.1", sw.SIPPort)
	spellings := []struct{ number, rule string }{
		{"+8821612345678", "prefix +882"},
		{"008821612345678", "prefix +882"},
		{"0118821612345678", "prefix +882"},
		{"tel:+8821612345678", "prefix +882"},
		{"tel:+882-16-1234-5678", "prefix +882"},
		{"tel:1612345678;phone-context=+882", "prefix +882"},
		{"+88-216-1234.5678", "prefix +882"},
		{"(+882)16-1234-5678", "prefix +882"},
		{"%2B8821612345678", "prefix +882"},
		{"%2b882%2016%201234%205678", "prefix +882"},
		{"+881812345678", "prefix +881"}, // outside the allowed +8816
		{"011870773111632", "prefix +870"},
		{"+979123456789", "prefix +979"},
		{"+68820123", "country TV"},
		{"01168820123", "country TV"},
		{"00447000123456", "prefix +4470"}, // configured
	}
	for _, s := range spellings {
		chal := ua.invite(s.number, "")
		if chal.StatusCode != 407 {
			t.Fatalf("INVITE %s without credentials = %d %s, want 407", s.number, chal.StatusCode, chal.Reason)
		}
		res := ua.invite(s.number, ua.answer(chal, s.number, s.number, true))
		w := res.GetHeader("Warning")
		if res.StatusCode != 403 || w == nil || !strings.Contains(w.Value(), "destination blocked: "+s.rule) {
			t.Errorf("INVITE %s = %d %s, Warning %v; want 403 with a Warning naming %s", s.number, res.StatusCode, res.Reason, w, s.rule)
		}
	}
	allowed := "+881631234567"
	if res := ua.invite(allowed, ua.answer(ua.invite(allowed, ""), allowed, allowed, true)); res.StatusCode != 486 {
		t.Errorf("INVITE %s (allowed) = %d %s, want the carrier's 486", allowed, res.StatusCode, res.Reason)
	}
	mustPass(t, "carrier (want only the allowed number)", uas, 10*time.Second)

	blocked := 1 + len(spellings)
	if n := sw.Metric(`dialtone_calls_refused_total{reason="blocked_destination"}`); n != float64(blocked) {
		t.Errorf("dialtone_calls_refused_total{reason=blocked_destination} = %v, want %d", n, blocked)
	}
	cdrs := sw.CDRs(blocked + 1)
	refused := 0
	for _, c := range cdrs {
		if c.SIPCode == 403 {
			refused++
			if c.Trunk != "" || c.DialedE164 == "" {
				t.Errorf("refused CDR %s (%s): trunk %q, want none and the number on record", c.DialedRaw, c.DialedE164, c.Trunk)
			}
		}
	}
	if refused != blocked {
		t.Errorf("%d refused CDRs, want %d\n%s", refused, blocked, fmt.Sprint(describe(cdrs)))
	}
}
