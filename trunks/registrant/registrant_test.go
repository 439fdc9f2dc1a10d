package registrant_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/dialtone/dialtone/trunks"
	"github.com/dialtone/dialtone/trunks/registrant"
	"github.com/dialtone/dialtone/trunks/srv"
	"github.com/dialtone/dialtone/trunks/srv/srvtest"
)

// seen is one REGISTER as the registrar got it.
type seen struct {
	callID, fromTag string
	cseq            uint32
	expires         int
	authorized      bool
	code            int // what the registrar answered
}

// registrar is a carrier's registrar on 127.0.0.1:0: it challenges a
// REGISTER without credentials (401, digest MD5), refuses wrong ones
// (403), asks for at least minExpires seconds (423 with Min-Expires), and
// grants what is asked, in the Contact's expires parameter.
type registrar struct {
	ep         trunks.Endpoint
	user, pass string
	minExpires int

	mu   sync.Mutex
	regs []seen
}

func startRegistrar(t *testing.T, user, pass string, minExpires int) *registrar {
	t.Helper()
	r := &registrar{user: user, pass: pass, minExpires: minExpires}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-registrar"))
	if err != nil {
		t.Fatal(err)
	}
	server, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	chal := &digest.Challenge{Realm: "carrier.test", Nonce: "5ca1ab1e", Algorithm: "MD5"}
	server.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		s := seen{callID: req.CallID().Value(), cseq: req.CSeq().SeqNo}
		s.fromTag, _ = req.From().Params.Get("tag")
		s.expires, _ = strconv.Atoi(req.GetHeader("Expires").Value())
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		auth := req.GetHeader("Authorization")
		switch {
		case auth == nil:
			res = sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
		case !r.valid(chal, auth.Value()):
			res = sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
		case s.expires > 0 && s.expires < r.minExpires:
			s.authorized = true
			res = sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(r.minExpires)))
		default:
			s.authorized = true
			contact := req.Contact().Clone()
			contact.Params = sip.NewParams()
			contact.Params.Add("expires", strconv.Itoa(s.expires))
			res.AppendHeader(contact)
		}
		s.code = res.StatusCode
		r.mu.Lock()
		r.regs = append(r.regs, s)
		r.mu.Unlock()
		_ = tx.Respond(res)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.ep = trunks.Endpoint{Host: "127.0.0.1", Port: pc.LocalAddr().(*net.UDPAddr).Port}
	go func() { _ = server.ServeUDP(pc) }()
	t.Cleanup(func() { pc.Close(); ua.Close() })
	return r
}

func (r *registrar) valid(chal *digest.Challenge, header string) bool {
	cred, err := digest.ParseCredentials(header)
	if err != nil || cred.Username != r.user {
		return false
	}
	want, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: cred.URI, Username: r.user, Password: r.pass})
	return err == nil && want.Response == cred.Response
}

func (r *registrar) seen() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.regs...)
}

func newClient(t *testing.T) *sipgo.Client {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-switch"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	return client
}

// checkBinding fails unless every REGISTER kept the first one's Call-ID
// and From tag and raised the CSeq.
func checkBinding(t *testing.T, regs []seen) {
	t.Helper()
	for i, s := range regs[1:] {
		prev := regs[i]
		if s.callID != regs[0].callID || s.fromTag != regs[0].fromTag {
			t.Errorf("REGISTER %d: Call-ID %q, From tag %q; want the binding's %q, %q", i+2, s.callID, s.fromTag, regs[0].callID, regs[0].fromTag)
		}
		if s.cseq <= prev.cseq {
			t.Errorf("REGISTER %d: CSeq %d after %d, want it to increase", i+2, s.cseq, prev.cseq)
		}
	}
}

func TestBindingRegister(t *testing.T) {
	reg := startRegistrar(t, "trunkuser", "s3cret", 120)
	b := registrant.NewBinding(newClient(t), registrant.BindingConfig{User: "trunkuser", Username: "trunkuser", Password: "s3cret",
		Transport: "udp", ContactHost: "127.0.0.1", ContactPort: 5060})
	ctx := context.Background()

	// 401, then 423 Min-Expires: 120 for the 60 s asked, then 401 and 200 for 120 s.
	if got, err := b.Register(ctx, reg.ep, 60*time.Second); err != nil || got != 120*time.Second {
		t.Fatalf("Register(60s) = %v, %v, want 2m0s granted after the 423", got, err)
	}
	// A refresh asks for the Min-Expires at once.
	if got, err := b.Register(ctx, reg.ep, 60*time.Second); err != nil || got != 120*time.Second {
		t.Fatalf("refresh Register(60s) = %v, %v, want 2m0s", got, err)
	}
	// Withdraw.
	if got, err := b.Register(ctx, reg.ep, 0); err != nil || got != 0 {
		t.Fatalf("Register(0) = %v, %v, want the binding withdrawn", got, err)
	}
	regs := reg.seen()
	var flow []string
	for _, s := range regs {
		flow = append(flow, strconv.Itoa(s.expires)+":"+strconv.Itoa(s.code))
	}
	if want := "60:401 60:423 120:401 120:200 120:401 120:200 0:401 0:200"; strings.Join(flow, " ") != want {
		t.Errorf("registrar saw (Expires:answer) %s, want %s", strings.Join(flow, " "), want)
	}
	checkBinding(t, regs)
	if regs[0].callID != b.CallID() {
		t.Errorf("Call-ID %q, want the binding's %q", regs[0].callID, b.CallID())
	}
}

func TestBindingFailures(t *testing.T) {
	reg := startRegistrar(t, "trunkuser", "s3cret", 3600)
	ctx := context.Background()
	tests := []struct {
		name    string
		pass    string
		expires time.Duration
		want    string
	}{
		{"wrong password", "wrong", time.Minute, "403 Forbidden"},
		// no password: the challenge is not answered.
		{"no credentials", "", time.Minute, "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := registrant.NewBinding(newClient(t), registrant.BindingConfig{User: "trunkuser", Username: "trunkuser", Password: tt.pass,
				Transport: "udp", ContactHost: "127.0.0.1", ContactPort: 5060})
			_, err := b.Register(ctx, reg.ep, tt.expires)
			var se *registrant.StatusError
			if !errors.As(err, &se) || err.Error() != tt.want {
				t.Errorf("Register = %v, want a StatusError %q", err, tt.want)
			}
		})
	}
}

// syncBuffer is a log destination the keeper's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// keeper runs a Keeper over tcs (after Defaults) whose waits the test
// controls: each wait asked for is sent on waits, and it ends when the
// test sends on fire.
func keeper(t *testing.T, dnsServer string, tcs ...trunks.TrunkConfig) (k *registrant.Keeper, waits chan time.Duration, fire chan time.Time, log *syncBuffer) {
	t.Helper()
	cfg := trunks.Config{Trunks: tcs}
	cfg.Defaults()
	cs, err := trunks.Build(cfg, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var resolver trunks.Resolver
	if dnsServer != "" {
		r := srv.New(srv.Config{Server: dnsServer})
		resolver = r
	}
	router := trunks.NewRouter(cs, resolver, nil)
	waits, fire, log = make(chan time.Duration, 10), make(chan time.Time), &syncBuffer{}
	k = registrant.NewKeeper(registrant.Config{Client: newClient(t), Endpoints: router.Endpoints, ContactHost: "127.0.0.1", ContactPort: 5060,
		Log:   slog.New(slog.NewTextHandler(log, nil)),
		After: func(d time.Duration) <-chan time.Time { waits <- d; return fire }})
	k.Restart(cs)
	t.Cleanup(k.Stop)
	return k, waits, fire, log
}

func next(t *testing.T, waits chan time.Duration) time.Duration {
	t.Helper()
	select {
	case d := <-waits:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the keeper did not come to wait")
		return 0
	}
}

func TestKeeperRefreshesAndWithdraws(t *testing.T) {
	reg := startRegistrar(t, "trunkuser", "s3cret", 0)
	k, waits, fire, _ := keeper(t, "", trunks.TrunkConfig{Name: "c1", Address: reg.ep.String(), Username: "trunkuser", Password: "s3cret",
		Register: trunks.RegisterConfig{Enabled: true, Expires: trunks.Duration(100 * time.Second), Retry: trunks.Duration(5 * time.Second)}})
	if d := next(t, waits); d != 80*time.Second {
		t.Errorf("wait after a 100 s registration = %v, want 80s (refreshed before it lapses)", d)
	}
	if st := k.State("c1"); !strings.HasPrefix(st, "registered until ") {
		t.Errorf("State(c1) = %q, want registered", st)
	}
	fire <- time.Now()
	next(t, waits)
	fire <- time.Now()
	next(t, waits)
	k.Stop()
	if st := k.State("c1"); st != "unregistered" {
		t.Errorf("State(c1) after Stop = %q, want unregistered", st)
	}
	regs := reg.seen()
	var ok []int
	for _, s := range regs {
		if s.code == 200 {
			ok = append(ok, s.expires)
		}
	}
	if len(ok) != 4 || ok[0] != 100 || ok[3] != 0 {
		t.Errorf("registrar granted Expires %v, want 100 three times (a registration, two refreshes) then 0", ok)
	}
	checkBinding(t, regs)
}

func TestKeeperRetriesAfterFailure(t *testing.T) {
	reg := startRegistrar(t, "trunkuser", "s3cret", 0)
	k, waits, _, log := keeper(t, "", trunks.TrunkConfig{Name: "c1", Address: reg.ep.String(), Username: "trunkuser", Password: "wrong",
		Register: trunks.RegisterConfig{Enabled: true, Expires: trunks.Duration(100 * time.Second), Retry: trunks.Duration(7 * time.Second)}})
	if d := next(t, waits); d != 7*time.Second {
		t.Errorf("wait after a refusal = %v, want register.retry (7s)", d)
	}
	if st := k.State("c1"); st != "not registered: 403 Forbidden" {
		t.Errorf("State(c1) = %q, want the refusal", st)
	}
	if !strings.Contains(log.String(), "carrier registration failed") {
		t.Errorf("log = %q, want the failure", log.String())
	}
}

func TestKeeperDNSFailure(t *testing.T) {
	k, waits, _, log := keeper(t, srvtest.NXDomain(t), trunks.TrunkConfig{Name: "nx", SRV: "gone.test",
		Register: trunks.RegisterConfig{Enabled: true, Expires: trunks.Duration(time.Minute), Retry: trunks.Duration(time.Second)}})
	next(t, waits)
	want := "not registered: dns: srv _sip._udp.gone.test.: no such domain"
	if st := k.State("nx"); st != want {
		t.Errorf("State(nx) = %q, want %q", st, want)
	}
	if l := log.String(); !strings.Contains(l, "carrier registration failed") || !strings.Contains(l, "dns: srv _sip._udp.gone.test.: no such domain") {
		t.Errorf("log = %q, want the DNS failure", l)
	}
}
