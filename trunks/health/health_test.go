package health_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialtone/dialtone/trunks"
	"github.com/dialtone/dialtone/trunks/health"
	"github.com/dialtone/dialtone/trunks/srv"
	"github.com/dialtone/dialtone/trunks/srv/srvtest"
)

// carrier is a SIP peer on 127.0.0.1:0 that answers OPTIONS with code
// (0: says nothing) and counts them.
type carrier struct {
	addr    string
	code    atomic.Int32
	options atomic.Int32
}

var reasons = map[int]string{200: "OK", 404: "Not Found", 503: "Service Unavailable"}

func startCarrier(t *testing.T, code int) *carrier {
	t.Helper()
	c := &carrier{}
	c.code.Store(int32(code))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-carrier"))
	if err != nil {
		t.Fatal(err)
	}
	server, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	server.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		c.options.Add(1)
		if code := int(c.code.Load()); code != 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, code, reasons[code], nil))
		}
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = pc.LocalAddr().String()
	go func() { _ = server.ServeUDP(pc) }()
	t.Cleanup(func() { pc.Close(); ua.Close() })
	return c
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

// newRouter builds the carriers of trunks (after Defaults), with DNS at
// dnsServer when given.
func newRouter(t *testing.T, dnsServer string, tcs ...trunks.TrunkConfig) *trunks.Router {
	t.Helper()
	cfg := trunks.Config{Trunks: tcs}
	cfg.Defaults()
	cs, err := trunks.Build(cfg, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var resolver trunks.Resolver
	if dnsServer != "" {
		r := srv.New(srv.Config{Server: dnsServer, TTL: time.Nanosecond})
		resolver = r
	}
	return trunks.NewRouter(cs, resolver, nil)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMonitorDownAndUp(t *testing.T) {
	peer := startCarrier(t, 200)
	opts := trunks.OptionsConfig{Interval: trunks.Duration(20 * time.Millisecond), Timeout: trunks.Duration(time.Second), DownAfter: 2, UpAfter: 2}
	r := newRouter(t, "", trunks.TrunkConfig{Name: "c1", Address: peer.addr, Options: opts}, trunks.TrunkConfig{Name: "unchecked", Address: "127.0.0.1:9"})
	m := health.New(newClient(t), r.Endpoints, quiet)
	c := r.Carriers().Get("c1")
	c.Gate.SetUp(false, "from before")
	r.Carriers().Get("unchecked").Gate.SetUp(false, "from before")
	m.Restart(r.Carriers())
	t.Cleanup(m.Stop)

	reg := prometheus.NewRegistry()
	reg.MustRegister(health.NewCollector(r.Carriers))
	state := func() (bool, string) { up, reason, _ := c.Gate.State(); return up, reason }

	waitFor(t, "c1 up after two answers", func() bool { up, _ := state(); return up })
	if up, _, _ := r.Carriers().Get("unchecked").Gate.State(); !up {
		t.Errorf("a carrier without checks is down, want it marked up")
	}
	peer.code.Store(503)
	waitFor(t, "c1 down after two 503s", func() bool { up, _ := state(); return !up })
	if _, reason := state(); reason != "OPTIONS: 503 Service Unavailable" {
		t.Errorf("down reason = %q, want the carrier's answer", reason)
	}
	if got := trunkUp(t, reg, "c1"); got != 0 {
		t.Errorf("dialtone_trunk_up{trunk=c1} = %v while down, want 0", got)
	}
	seen := peer.options.Load()
	peer.code.Store(404) // any answer below 500 means it is there
	waitFor(t, "c1 up again", func() bool { up, _ := state(); return up })
	if n := peer.options.Load() - seen; n < 2 {
		t.Errorf("c1 came up after %d answers, want up_after (2)", n)
	}
}

// trunkUp is the registry's dialtone_trunk_up value of one trunk.
func trunkUp(t *testing.T, reg *prometheus.Registry, trunk string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "dialtone_trunk_up" && m.GetLabel()[0].GetValue() == trunk {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no dialtone_trunk_up for %s", trunk)
	return 0
}

func TestCheck(t *testing.T) {
	live, silent := startCarrier(t, 200), startCarrier(t, 0)
	dnsServer := srvtest.NXDomain(t)
	fast := trunks.OptionsConfig{Timeout: trunks.Duration(200 * time.Millisecond)}
	r := newRouter(t, dnsServer,
		trunks.TrunkConfig{Name: "second-answers", Addresses: []string{silent.addr, live.addr}, Options: fast},
		trunks.TrunkConfig{Name: "silent", Address: silent.addr, Options: fast},
		trunks.TrunkConfig{Name: "nxdomain", SRV: "gone.test", Options: fast},
	)
	m := health.New(newClient(t), r.Endpoints, quiet)
	tests := []struct {
		trunk string
		want  string // "" for up; else the error's start
	}{
		{"second-answers", ""},
		{"silent", "OPTIONS: no answer within 200ms"},
		{"nxdomain", "dns: srv _sip._udp.gone.test.: no such domain"},
	}
	for _, tt := range tests {
		err := m.Check(context.Background(), r.Carriers().Get(tt.trunk))
		if (tt.want == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Check(%s) = %v, want %q", tt.trunk, err, tt.want)
		}
	}
	if err := m.Check(context.Background(), r.Carriers().Get("nxdomain")); !errors.Is(err, trunks.ErrDNS) {
		t.Errorf("Check(nxdomain) = %v, want it to wrap %v", err, trunks.ErrDNS)
	}
}

func TestMonitorDNSFailureMarksDown(t *testing.T) {
	dnsServer := srvtest.NXDomain(t)
	opts := trunks.OptionsConfig{Interval: trunks.Duration(20 * time.Millisecond), DownAfter: 1}
	r := newRouter(t, dnsServer, trunks.TrunkConfig{Name: "nx", SRV: "gone.test", Options: opts})
	m := health.New(newClient(t), r.Endpoints, quiet)
	m.Restart(r.Carriers())
	t.Cleanup(m.Stop)
	c := r.Carriers().Get("nx")
	waitFor(t, "nx down", func() bool { up, _, _ := c.Gate.State(); return !up })
	if _, reason, _ := c.Gate.State(); !strings.HasPrefix(reason, "dns: srv _sip._udp.gone.test.: no such domain") {
		t.Errorf("down reason = %q, want the DNS failure", reason)
	}
	if st := r.Status(nil); st[0].Up || !strings.HasPrefix(st[0].Reason, "dns: ") {
		t.Errorf("Status() = %+v, want nx down for DNS", st[0])
	}
}
