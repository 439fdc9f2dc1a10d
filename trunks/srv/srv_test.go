package srv_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dialtone/dialtone/trunks/srv"
)

// zone is a DNS server on 127.0.0.1:0 answering from records; a name it
// does not hold is NXDOMAIN. It counts the queries it answers.
type zone struct {
	addr    string
	queries atomic.Int32
}

func startZone(t *testing.T, records ...string) *zone {
	t.Helper()
	byName := map[string][]dns.RR{}
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("dns.NewRR(%q) = %v", s, err)
		}
		byName[rr.Header().Name] = append(byName[rr.Header().Name], rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z := &zone{addr: pc.LocalAddr().String()}
	started := make(chan struct{})
	server := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			z.queries.Add(1)
			m := new(dns.Msg)
			m.SetReply(req)
			q := req.Question[0]
			rrs, ok := byName[q.Name]
			if !ok {
				m.Rcode = dns.RcodeNameError
			}
			for _, rr := range rrs {
				if rr.Header().Rrtype == q.Qtype {
					m.Answer = append(m.Answer, rr)
				}
			}
			_ = w.WriteMsg(m)
		})}
	go func() { _ = server.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = server.Shutdown() })
	return z
}

func TestLookupOrder(t *testing.T) {
	z := startZone(t,
		"_sip._udp.carrier.test. 60 IN SRV 20 0 5070 backup.carrier.test.",
		"_sip._udp.carrier.test. 60 IN SRV 10 10 5060 a.carrier.test.",
		"_sip._udp.carrier.test. 60 IN SRV 10 30 5062 b.carrier.test.",
		"_sip._udp.carrier.test. 60 IN SRV 10 0 5064 zero.carrier.test.",
		"_sip._udp.carrier.test. 60 IN SRV 30 0 5090 gone.carrier.test.", // has no address: left out
		"_sips._tcp.carrier.test. 60 IN SRV 10 0 5061 a.carrier.test.",
		"a.carrier.test. 60 IN A 127.0.0.1",
		"b.carrier.test. 60 IN A 127.0.0.2",
		"zero.carrier.test. 60 IN A 127.0.0.3",
		"backup.carrier.test. 60 IN A 127.0.0.4",
	)
	// RFC 2782 within priority 10: zero weights first, then running sums
	// zero=0, a=10, b=40; a draw of n reaches the first sum >= n.
	tests := []struct {
		name      string
		transport string
		draws     []int // what the weighted draw gives, in turn
		want      []string
	}{
		{"draw 0 takes the zero weight", "udp", []int{0, 0, 0, 0}, []string{"127.0.0.3:5064", "127.0.0.1:5060", "127.0.0.2:5062", "127.0.0.4:5070"}},
		{"draw past a's sum takes b", "udp", []int{11, 0, 0, 0}, []string{"127.0.0.2:5062", "127.0.0.3:5064", "127.0.0.1:5060", "127.0.0.4:5070"}},
		{"draw within a's sum takes a", "udp", []int{10, 5, 0, 0}, []string{"127.0.0.1:5060", "127.0.0.2:5062", "127.0.0.3:5064", "127.0.0.4:5070"}},
		{"tls asks _sips._tcp", "tls", []int{0}, []string{"127.0.0.1:5061"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			draws := slices.Clone(tt.draws)
			r := srv.New(srv.Config{Server: z.addr, Rand: func(n int) int {
				mu.Lock()
				defer mu.Unlock()
				if len(draws) == 0 {
					t.Fatalf("more draws than expected (n=%d)", n)
				}
				d := draws[0]
				draws = draws[1:]
				if d >= n {
					t.Fatalf("draw %d out of [0, %d)", d, n)
				}
				return d
			}})
			got, err := r.Lookup(context.Background(), tt.transport, "carrier.test")
			if err != nil || !slices.Equal(addrs(got), tt.want) {
				t.Errorf("Lookup(%s, carrier.test) = %v, %v, want %v", tt.transport, got, err, tt.want)
			}
		})
	}
}

func addrs(aps []netip.AddrPort) []string {
	out := make([]string, len(aps))
	for i, ap := range aps {
		out[i] = ap.String()
	}
	return out
}

func TestLookupFailures(t *testing.T) {
	z := startZone(t,
		"_sip._udp.closed.test. 60 IN SRV 0 0 0 .",
		"_sip._udp.noaddr.test. 60 IN SRV 10 0 5060 nowhere.test.",
		"_sip._tcp.empty.test. 60 IN SRV 10 0 5060 a.empty.test.", // udp asks _sip._udp: none
	)
	r := srv.New(srv.Config{Server: z.addr})
	tests := []struct {
		domain string
		want   error
		text   string
	}{
		{"gone.test", srv.ErrNotFound, "srv _sip._udp.gone.test.: no such domain"},
		{"closed.test", srv.ErrNoServers, "srv _sip._udp.closed.test.: no servers"},
		{"noaddr.test", srv.ErrNoServers, "srv _sip._udp.noaddr.test.: no servers: a nowhere.test.: no such domain"},
		{"empty.test", srv.ErrNotFound, "srv _sip._udp.empty.test.: no such domain"},
	}
	for _, tt := range tests {
		got, err := r.Lookup(context.Background(), "udp", tt.domain)
		if !errors.Is(err, tt.want) || err.Error() != tt.text || got != nil {
			t.Errorf("Lookup(udp, %s) = %v, %v, want %q (%v)", tt.domain, got, err, tt.text, tt.want)
		}
	}
}

func TestLookupUnreachable(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // a DNS server that never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := srv.New(srv.Config{Server: pc.LocalAddr().String(), Timeout: 50 * time.Millisecond})
	if _, err := r.Lookup(context.Background(), "udp", "carrier.test"); err == nil {
		t.Errorf("Lookup against a silent server = nil error, want one")
	}
}

func TestLookupCache(t *testing.T) {
	z := startZone(t,
		"_sip._udp.carrier.test. 60 IN SRV 10 0 5060 a.carrier.test.",
		"a.carrier.test. 60 IN A 127.0.0.1",
	)
	now := time.Unix(1000, 0)
	r := srv.New(srv.Config{Server: z.addr, TTL: 30 * time.Second, Now: func() time.Time { return now }})
	lookup := func() {
		t.Helper()
		if got, err := r.Lookup(context.Background(), "udp", "carrier.test"); err != nil || len(got) != 1 {
			t.Fatalf("Lookup = %v, %v", got, err)
		}
	}
	lookup()
	lookup()
	_, _ = r.Lookup(context.Background(), "udp", "gone.test")
	_, _ = r.Lookup(context.Background(), "udp", "gone.test")
	if q := z.queries.Load(); q != 3 {
		t.Errorf("queries within the TTL = %d, want 3 (SRV and A once, a failure once)", q)
	}
	now = now.Add(31 * time.Second)
	lookup()
	if q := z.queries.Load(); q != 5 {
		t.Errorf("queries after the TTL = %d, want 5", q)
	}
}
