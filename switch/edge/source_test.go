package edge

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone/switch/guard"
)

// request is an INVITE (or method) that came from peer over transport
// with the given extra header lines ("Name: value").
func request(t *testing.T, method, peer, transport string, headers ...string) *sip.Request {
	t.Helper()
	raw := string(method) + " sip:+12125550100@dialtone SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-1\r\n" +
		"From: <sip:alice@dialtone>;tag=1\r\nTo: <sip:+12125550100@dialtone>\r\n" +
		"Call-ID: c1@test\r\nCSeq: 1 " + method + "\r\nMax-Forwards: 70\r\n"
	for _, h := range headers {
		raw += h + "\r\n"
	}
	raw += "Content-Length: 0\r\n\r\n"
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	req := msg.(*sip.Request)
	req.SetSource(peer)
	req.SetTransport(transport)
	return req
}

func TestSourceOf(t *testing.T) {
	front := sources{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("2001:db8::10/128")}}
	for _, tc := range []struct {
		name      string
		method    string
		peer      string
		headers   []string
		want      string // Source as "addr transport front"; empty for an error
		remaining int    // X-Dialtone-Source headers left on the request
	}{
		{"direct, no header", "INVITE", "198.51.100.1:5060", nil, "198.51.100.1:5060 udp false", 0},
		{"trusted front names the client", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: 203.0.113.7:50312;ws"}, "203.0.113.7:50312 ws true", 1},
		{"trusted front, IPv6 client", "REGISTER", "10.0.0.5:5060", []string{"X-Dialtone-Source: [2001:db8::7]:5061;TLS"}, "[2001:db8::7]:5061 tls true", 1},
		{"trusted IPv6 front", "INVITE", "[2001:db8::10]:5060", []string{"X-Dialtone-Source: 203.0.113.7:5060;udp"}, "203.0.113.7:5060 udp true", 1},
		{"IPv4-mapped front is the IPv4 one", "INVITE", "[::ffff:10.0.0.5]:5060", []string{"X-Dialtone-Source: 203.0.113.7:5060;udp"}, "203.0.113.7:5060 udp true", 1},
		{"trusted front's own OPTIONS probe", "OPTIONS", "10.0.0.5:5060", nil, "10.0.0.5:5060 udp false", 0},
		{"forged by an untrusted client: removed", "INVITE", "198.51.100.1:5060", []string{"X-Dialtone-Source: 203.0.113.7:5060;udp"}, "198.51.100.1:5060 udp false", 0},
		{"forged twice in other spellings: all removed", "REGISTER", "198.51.100.1:5060", []string{"x-dialtone-source: 203.0.113.7:5060;udp", "X-DIALTONE-SOURCE: 203.0.113.8:5060;udp"}, "198.51.100.1:5060 udp false", 0},
		{"forged from the front's neighbour", "INVITE", "10.0.1.5:5060", []string{"X-Dialtone-Source: 203.0.113.7:5060;udp"}, "10.0.1.5:5060 udp false", 0},
		{"trusted front forgot the header", "INVITE", "10.0.0.5:5060", nil, "", 0},
		{"trusted front, two headers", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: 203.0.113.7:5060;udp", "X-Dialtone-Source: 203.0.113.8:5060;udp"}, "", 2},
		{"malformed: no transport", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: 203.0.113.7:5060"}, "", 1},
		{"malformed: no port", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: 203.0.113.7;udp"}, "", 1},
		{"malformed: port 0", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: 203.0.113.7:0;udp"}, "", 1},
		{"malformed: a host name", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: evil.example:5060;udp"}, "", 1},
		{"malformed: IPv6 without brackets", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: 2001:db8::7:5060;udp"}, "", 1},
		{"malformed: unknown transport", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: 203.0.113.7:5060;sctp"}, "", 1},
		{"malformed: too long", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: 203.0.113.7:5060;udp" + strings.Repeat(" ", 60) + "x"}, "", 1},
		{"malformed: empty", "INVITE", "10.0.0.5:5060", []string{"X-Dialtone-Source: "}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(t, tc.method, tc.peer, "UDP", tc.headers...)
			src, err := front.of(req)
			got := ""
			if err == nil {
				got = src.Addr.String() + " " + src.Transport + " " + map[bool]string{true: "true", false: "false"}[src.Front]
			} else if !errors.Is(err, ErrBadSource) {
				t.Fatalf("of() error = %v, want ErrBadSource", err)
			}
			if got != tc.want {
				t.Errorf("of(%s from %s, %q) = %q (%v), want %q", tc.method, tc.peer, tc.headers, got, err, tc.want)
			}
			if n := len(req.GetHeaders(SourceHeader)); n != tc.remaining {
				t.Errorf("%d %s headers left, want %d", n, SourceHeader, tc.remaining)
			}
		})
	}
	// Trusting nobody, the default, believes no header.
	req := request(t, "INVITE", "10.0.0.5:5060", "TCP", "X-Dialtone-Source: 203.0.113.7:5060;udp")
	if src, err := (sources{}).of(req); err != nil || src.String() != "10.0.0.5:5060" || src.Transport != "tcp" || src.Front {
		t.Errorf("of() trusting nobody = %+v, %v; want the peer over tcp", src, err)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"10.0.0.5", "10.0.1.0/24", "10.0.2.9/24", "2001:db8::10", "::ffff:192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("10.0.1.0/24"), netip.MustParsePrefix("10.0.2.0/24"),
		netip.MustParsePrefix("2001:db8::10/128"), netip.MustParsePrefix("192.0.2.1/32")}
	if !slices.Equal(got, want) {
		t.Errorf("ParseTrustedProxies = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "kamailio.local", "10.0.0.0/33", "10.0.0.1:5060", "::ffff:10.0.0.0/104"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("ParseTrustedProxies(%q) = nil error, want one", bad)
		}
	}
	s := DefaultSettings()
	s.TrustedProxies = []string{"10.0.0.0/8", "front"}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "sip.trusted_proxies") {
		t.Errorf("Validate() = %v, want a sip.trusted_proxies error", err)
	}
}

// TestFrontGuesserBannedByRealSource drives a real edge and guard over
// UDP: a password guesser behind a trusted front is banned by its own
// address, the front (allow-listed, as cmd/dialtone does) and another
// client behind it still get through, a nonce is bound to the real
// client, and a client that forges the header is counted as itself.
func TestFrontGuesserBannedByRealSource(t *testing.T) {
	cfg := guard.Defaults()
	cfg.Failures = 3
	g := newTestGuard(t, cfg)
	fronts := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	g.SetAllow(fronts)
	guesser := startEdgeWith(t, g, Config{Realm: "dialtone", MaxExpires: 3600, TrustedProxies: fronts})
	guesser.header = "X-Dialtone-Source: 192.0.2.7:40000;ws"
	for i := range cfg.Failures {
		if res := guesser.register("alice", "guess", guesser.nonce("alice"), 5*time.Second); res == nil || res.StatusCode != 403 {
			t.Fatalf("wrong password #%d through the front = %v, want 403", i+1, res)
		}
	}
	if !g.Banned(netip.MustParseAddr("192.0.2.7")) || g.Banned(netip.MustParseAddr("127.0.0.1")) {
		t.Fatalf("Bans() = %v, want the guesser 192.0.2.7 banned and not the front", g.Bans())
	}
	// The banned guesser's next request through the front is refused.
	if res := guesser.register("alice", "", "", 5*time.Second); res == nil || res.StatusCode != 503 {
		t.Errorf("REGISTER of the banned guesser through the front = %v, want 503", res)
	}

	// Another client behind the same front registers.
	other := newPhone(t, "127.0.0.1", guesser.to)
	other.header = "X-Dialtone-Source: 192.0.2.8:40000;udp"
	nonce := other.nonce("alice")
	// Its nonce is bound to its own address: replayed as if from a third
	// client behind the front, it is refused and challenged again.
	third := newPhone(t, "127.0.0.1", guesser.to)
	third.header = "X-Dialtone-Source: 192.0.2.9:40000;udp"
	if res := third.register("alice", "secret", nonce, 5*time.Second); res == nil || res.StatusCode != 401 {
		t.Errorf("a nonce of 192.0.2.8 answered by 192.0.2.9 = %v, want 401", res)
	}
	if res := other.register("alice", "secret", other.nonce("alice"), 5*time.Second); res == nil || res.StatusCode != 200 {
		t.Errorf("REGISTER of another client through the front = %v, want 200", res)
	}

	// A client that is no front and forges the header is itself.
	forger := newPhone(t, "127.0.0.2", guesser.to)
	forger.header = "X-Dialtone-Source: 192.0.2.10:40000;udp"
	for range cfg.Failures {
		forger.register("alice", "guess", forger.nonce("alice"), 5*time.Second)
	}
	if !g.Banned(netip.MustParseAddr("127.0.0.2")) || g.Banned(netip.MustParseAddr("192.0.2.10")) {
		t.Errorf("Bans() = %v, want the forger banned as 127.0.0.2, the forged address not", g.Bans())
	}
}

func TestBindingRequestFollowsPath(t *testing.T) {
	b := Binding{Contact: "sip:df7jal23@r4nd0m.invalid;transport=ws", Source: "10.0.0.5:5060", Transport: "UDP",
		Path: []string{"<sip:10.0.0.5:5070;transport=tcp;lr;received=sip:203.0.113.7:50312%3Btransport%3Dws>", "<sip:10.0.0.6;lr>"}}
	req, err := b.Request(sip.MESSAGE)
	if err != nil {
		t.Fatal(err)
	}
	if req.Recipient.Host != "r4nd0m.invalid" || req.Destination() != "10.0.0.5:5070" || req.Transport() != "TCP" {
		t.Errorf("Request() = %s to %s over %s, want the Contact sent to the first Path hop over tcp", req.Recipient.String(), req.Destination(), req.Transport())
	}
	var routes []string
	for _, h := range req.GetHeaders("Route") {
		routes = append(routes, h.Value())
	}
	if !slices.Equal(routes, b.Path) {
		t.Errorf("Route = %q, want the Path %q", routes, b.Path)
	}
	// Without a Path, back where the REGISTER came from.
	b.Path = nil
	if req, err := b.Request(sip.MESSAGE); err != nil || req.Destination() != "10.0.0.5:5060" || req.GetHeader("Route") != nil {
		t.Errorf("Request() without Path = %v to %s, want no Route, to the REGISTER's source", err, req.Destination())
	}
	b.Path = []string{"<sip:@@bad"}
	if _, err := b.Request(sip.MESSAGE); err == nil {
		t.Errorf("Request() with a broken Path = nil error, want one")
	}
}

// FuzzParseSourceHeader: no value panics the parser, and what it accepts
// writes back to a value that reads the same.
func FuzzParseSourceHeader(f *testing.F) {
	for _, s := range []string{"203.0.113.7:50312;ws", "[2001:db8::7]:5061;TLS", " 10.0.0.1:1 ; udp ", "[::ffff:10.0.0.1]:5060;tcp",
		"203.0.113.7:5060", "2001:db8::7:5060;udp", "[fe80::1%eth0]:5060;udp", ";", "", "1.2.3.4:0;udp", "1.2.3.4:99999;udp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		src, err := ParseSourceHeader(v)
		if err != nil {
			return
		}
		if !src.Addr.IsValid() || src.Addr.Port() == 0 || !src.Front || !slices.Contains(Transports, src.Transport) {
			t.Fatalf("ParseSourceHeader(%q) = %+v, want a valid source", v, src)
		}
		again, err := ParseSourceHeader(src.String() + ";" + src.Transport)
		if err != nil || again != src {
			t.Fatalf("ParseSourceHeader(%q) = %+v, read back as %+v, %v", v, src, again, err)
		}
	})
}
