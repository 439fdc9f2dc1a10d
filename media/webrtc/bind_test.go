package webrtc

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// machineIPv4 lists the IPv4 addresses of the interfaces that are up,
// loopback left out.
func machineIPv4(tb testing.TB) []string {
	tb.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		tb.Fatal(err)
	}
	var ips []string
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
				ips = append(ips, p.Addr().String())
			}
		}
	}
	slices.Sort(ips)
	return ips
}

// newEngineOnAll starts an Engine on 0.0.0.0 at a port that is free on
// every address (0 is not allowed there), trying a few.
func newEngineOnAll(tb testing.TB) *Engine {
	tb.Helper()
	var last error
	for range 10 {
		probe, err := net.ListenUDP("udp4", &net.UDPAddr{})
		if err != nil {
			tb.Fatal(err)
		}
		port := probe.LocalAddr().(*net.UDPAddr).Port
		probe.Close()
		cfg := Config{Bind: netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), Log: testLog(tb)}
		e, err := New(cfg)
		if err != nil {
			last = err
			continue
		}
		tb.Cleanup(func() { _ = e.Close() })
		return e
	}
	tb.Fatalf("no free port on 0.0.0.0: %v", last)
	return nil
}

// TestBindAll binds 0.0.0.0, as production does: the answer's host
// candidates are every non-loopback IPv4 address of the machine, on the
// one port, and a browser on the machine's own address connects.
func TestBindAll(t *testing.T) {
	want := machineIPv4(t)
	if len(want) == 0 {
		t.Skip("no non-loopback IPv4 address: browsers could not reach the switch either")
	}
	e := newEngineOnAll(t)
	if !e.Addr().Addr().IsUnspecified() || e.Addr().Port() == 0 {
		t.Errorf("Addr() = %s, want 0.0.0.0 and the port", e.Addr())
	}
	k := dial(t, e, "opus", 48000)
	var got []string
	for _, c := range attrs(audioMedia(t, k.answer), "candidate") {
		f := splitFields(c)
		if f[1] != "1" {
			continue // pion also writes the RTCP component; rtcp-mux makes it moot
		}
		if f[5] != strconv.Itoa(int(e.Addr().Port())) || f[7] != "host" {
			t.Errorf("candidate %q, want a host candidate on port %d", c, e.Addr().Port())
		}
		got = append(got, f[4])
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("candidate addresses = %v, want the machine's %v", got, want)
	}
	k.toEngine(t, 111, []byte("over "+strings.Join(want, ",")))
	k.toClient(t, 110, []byte{1, 0x8a, 0, 160})
}

func TestAdvertise(t *testing.T) {
	e := newEngine(t, Config{Advertise: []netip.Addr{netip.MustParseAddr("203.0.113.7")}})
	c := newClient(t, e.Addr().Addr())
	p, err := e.Accept(c.offer(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, d := pick(t, p.Offered(), "opus", 48000)
	answer, err := p.Answer(a, d)
	if err != nil {
		t.Fatal(err)
	}
	cands := attrs(audioMedia(t, answer), "candidate")
	if len(cands) == 0 {
		t.Fatalf("answer has no candidates:\n%s", answer)
	}
	for _, c := range cands {
		if f := splitFields(c); f[4] != "203.0.113.7" || f[5] != strconv.Itoa(int(e.Addr().Port())) || f[7] != "host" {
			t.Errorf("candidate %q, want host 203.0.113.7:%d", c, e.Addr().Port())
		}
	}
}

func TestNewRejects(t *testing.T) {
	busy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		cfg  Config
		say  string
	}{
		{"no address", Config{}, "IPv4"},
		{"IPv6", Config{Bind: netip.MustParseAddrPort("[::1]:20000")}, "IPv4"},
		{"unspecified port 0", Config{Bind: netip.MustParseAddrPort("0.0.0.0:0")}, "non-zero"},
		{"port in use", Config{Bind: busy.LocalAddr().(*net.UDPAddr).AddrPort()}, "bind"},
		{"not our address", Config{Bind: netip.MustParseAddrPort("198.51.100.1:20000")}, "bind 198.51.100.1:20000"},
		{"advertise IPv6", Config{Bind: netip.MustParseAddrPort("127.0.0.1:0"), Advertise: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}, "advertise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.cfg)
			if err == nil {
				e.Close()
				t.Fatalf("New(%+v) = nil error", tt.cfg)
			}
			if !strings.Contains(err.Error(), tt.say) {
				t.Errorf("New(%+v) = %q, want it to say %q", tt.cfg, err, tt.say)
			}
		})
	}
}
