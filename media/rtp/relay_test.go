package rtp

import (
	"errors"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func newPool(tb testing.TB, min, max int) *PortPool {
	tb.Helper()
	p, err := NewPortPool(loopback, min, max)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// peer is a phone or carrier: a UDP socket that sends and receives RTP.
type peer struct {
	conn *net.UDPConn
}

func newPeer(tb testing.TB) *peer {
	tb.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &peer{conn: c}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func packet(seq uint16, pt uint8, payload []byte) []byte {
	pkt := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0x1234}, Payload: payload}
	b, _ := pkt.Marshal()
	return b
}

func (p *peer) send(tb testing.TB, to int, b []byte) {
	tb.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(b, netip.AddrPortFrom(loopback, uint16(to))); err != nil {
		tb.Fatal(err)
	}
}

func (p *peer) recv(tb testing.TB) ([]byte, netip.AddrPort) {
	tb.Helper()
	buf := make([]byte, 1500)
	_ = p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, src, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		tb.Fatalf("no packet: %v", err)
	}
	return buf[:n], src
}

func newRelay(t *testing.T) (*Relay, *peer, *peer) {
	t.Helper()
	pool := newPool(t, 41000, 41099)
	a, err := pool.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pool.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	r := NewRelay(a, b)
	t.Cleanup(func() { r.Close() })
	app, carrier := newPeer(t), newPeer(t)
	r.A().SetRemote(app.addr(), netip.AddrPortFrom(loopback, app.addr().Port()+1))
	r.B().SetRemote(carrier.addr(), netip.AddrPortFrom(loopback, carrier.addr().Port()+1))
	return r, app, carrier
}

func TestRelayPassesPacketsBothWays(t *testing.T) {
	r, app, carrier := newRelay(t)
	for i := range 5 {
		want := packet(uint16(100+i), 0, []byte("hello from the app"))
		app.send(t, r.A().Port(), want)
		got, src := carrier.recv(t)
		if string(got) != string(want) || int(src.Port()) != r.B().Port() {
			t.Fatalf("carrier got %x from %v, want %x from port %d", got, src, want, r.B().Port())
		}
	}
	dtmf := packet(7, 101, []byte{1, 0x8a, 0, 160}) // RFC 4733 event passes untouched
	carrier.send(t, r.B().Port(), dtmf)
	if got, _ := app.recv(t); string(got) != string(dtmf) {
		t.Errorf("app got %x, want the telephone-event %x", got, dtmf)
	}
	if s := r.A().Stats(); s.Packets != 5 || s.FirstPT != 0 || s.Lost != 0 {
		t.Errorf("app leg stats = %+v, want 5 packets of PT 0, none lost", s)
	}
	if s := r.B().Stats(); s.Packets != 1 || s.Sent != 5 || s.FirstPT != 101 {
		t.Errorf("carrier leg stats = %+v, want 1 received, 5 sent, PT 101", s)
	}
}

func TestRelayLatchesAndDropsBleed(t *testing.T) {
	r, app, carrier := newRelay(t)
	// The app is behind NAT: its packets come from another port than its SDP says.
	nat := newPeer(t)
	nat.send(t, r.A().Port(), packet(1, 0, []byte("first")))
	carrier.recv(t)
	// Media to the app now goes to where its packets come from.
	carrier.send(t, r.B().Port(), packet(1, 0, []byte("to app")))
	if got, _ := nat.recv(t); string(got[12:]) != "to app" {
		t.Errorf("latched app got %q, want %q", got[12:], "to app")
	}
	// Anyone else sending to the app's port is dropped: no bleed.
	intruder := newPeer(t)
	intruder.send(t, r.A().Port(), packet(2, 0, []byte("bleed")))
	nat.send(t, r.A().Port(), packet(2, 0, []byte("second")))
	if got, _ := carrier.recv(t); string(got[12:]) != "second" {
		t.Errorf("carrier got %q, want only the latched source's %q", got[12:], "second")
	}
	_ = app
	if s := r.A().Stats(); s.Dropped != 1 || s.Packets != 2 {
		t.Errorf("app leg stats = %+v, want 2 packets, 1 dropped", s)
	}
}

func TestRelayDropsGarbage(t *testing.T) {
	r, app, carrier := newRelay(t)
	for _, g := range [][]byte{{0}, []byte("not rtp at all, just text"), {0x80}, {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, packet(1, 0, nil)[:11]} {
		app.send(t, r.A().Port(), g)
	}
	app.send(t, r.A().Port(), packet(9, 8, []byte("ok")))
	if got, _ := carrier.recv(t); string(got[12:]) != "ok" {
		t.Errorf("carrier got %q, want only the valid packet", got)
	}
	if s := r.A().Stats(); s.Malformed != 5 || s.Packets != 1 {
		t.Errorf("stats = %+v, want 5 malformed, 1 packet", s)
	}
}

func TestSequenceLoss(t *testing.T) {
	tests := []struct {
		seqs []uint16
		lost int64
	}{
		{[]uint16{1, 2, 3, 4}, 0},
		{[]uint16{1, 2, 5, 6}, 2},
		{[]uint16{1, 3, 2, 4}, 0},         // reordered
		{[]uint16{1, 2, 2, 3}, 0},         // duplicate
		{[]uint16{65534, 65535, 0, 1}, 0}, // wrap-around
		{[]uint16{65534, 65535, 2, 3}, 2}, // loss across the wrap
	}
	for _, tt := range tests {
		var s seqTracker
		var lost int64
		for _, q := range tt.seqs {
			lost = s.update(q)
		}
		if lost != tt.lost {
			t.Errorf("seqTracker(%v) lost = %d, want %d", tt.seqs, lost, tt.lost)
		}
	}
}

func TestRelayRTCP(t *testing.T) {
	r, app, carrier := newRelay(t)
	appRTCP, carrierRTCP := newPeer(t), newPeer(t)
	r.A().SetRemote(app.addr(), appRTCP.addr())
	r.B().SetRemote(carrier.addr(), carrierRTCP.addr())
	rr := []byte{0x81, 201, 0, 7, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	appRTCP.send(t, r.A().Port()+1, rr)
	if got, _ := carrierRTCP.recv(t); string(got) != string(rr) {
		t.Errorf("carrier RTCP got %x, want %x", got, rr)
	}
}

func TestMediaTimeout(t *testing.T) {
	r, app, carrier := newRelay(t)
	var fired atomic.Int32
	done := make(chan struct{})
	r.Arm(300*time.Millisecond, func() { fired.Add(1); close(done) })
	// Packets keep it alive.
	for i := range 8 {
		app.send(t, r.A().Port(), packet(uint16(i), 0, []byte("x")))
		carrier.recv(t)
		time.Sleep(100 * time.Millisecond)
	}
	if fired.Load() != 0 {
		t.Fatal("media timeout fired while packets flowed")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("media timeout did not fire after packets stopped")
	}
	time.Sleep(400 * time.Millisecond)
	if n := fired.Load(); n != 1 {
		t.Errorf("media timeout fired %d times, want once", n)
	}
}

func TestMediaTimeoutHold(t *testing.T) {
	r, _, _ := newRelay(t)
	r.A().SetHold(true)
	r.B().SetHold(true)
	var fired atomic.Bool
	r.Arm(200*time.Millisecond, func() { fired.Store(true) })
	time.Sleep(600 * time.Millisecond)
	if fired.Load() {
		t.Error("media timeout fired while both legs are on hold")
	}
}

func TestPortPool(t *testing.T) {
	pool := newPool(t, 42001, 42010) // even ports 42002..42008: 4 pairs
	var pairs []*Pair
	for {
		p, err := pool.Allocate()
		if errors.Is(err, ErrNoPorts) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Port%2 != 0 {
			t.Errorf("Allocate() RTP port %d is odd", p.Port)
		}
		pairs = append(pairs, p)
	}
	if len(pairs) != 4 || pool.InUse() != 4 {
		t.Fatalf("allocated %d pairs (%d in use), want 4", len(pairs), pool.InUse())
	}
	ports := []int{}
	for _, p := range pairs {
		ports = append(ports, p.Port)
		p.Close()
		p.Close() // idempotent
	}
	sort.Ints(ports)
	if ports[0] != 42002 || ports[3] != 42008 {
		t.Errorf("ports = %v, want 42002..42008", ports)
	}
	if pool.InUse() != 0 {
		t.Errorf("InUse() = %d after Close, want 0", pool.InUse())
	}
	again, err := pool.Allocate()
	if err != nil {
		t.Fatalf("Allocate() after release = %v", err)
	}
	again.Close()
}

func TestCloseStopsGoroutines(t *testing.T) {
	pool := newPool(t, 43000, 43099)
	for range 20 {
		a, _ := pool.Allocate()
		b, _ := pool.Allocate()
		r := NewRelay(a, b)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		_ = r.Close()
	}
	if pool.InUse() != 0 {
		t.Errorf("InUse() = %d after closing every relay, want 0", pool.InUse())
	}
}

func FuzzRelayPacket(f *testing.F) {
	f.Add(packet(1, 0, []byte("payload")))
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 0x10, 0, 0, 0})
	f.Add([]byte{0x8f, 0x60})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h pionrtp.Header
		if len(b) >= 12 && b[0]>>6 == 2 {
			_, _ = h.Unmarshal(b)
		}
		var s seqTracker
		if len(b) >= 4 {
			s.update(uint16(b[2])<<8 | uint16(b[3]))
		}
	})
}

// BenchmarkRelayForward measures one packet through a bridge over loopback
// and the latency it adds (p50/p99 from send to receive).
func BenchmarkRelayForward(b *testing.B) {
	pool := newPool(b, 44000, 44099)
	pa, _ := pool.Allocate()
	pb, _ := pool.Allocate()
	r := NewRelay(pa, pb)
	defer r.Close()
	app, carrier := newPeer(b), newPeer(b)
	r.B().SetRemote(carrier.addr(), carrier.addr())
	pkt := packet(1, 0, make([]byte, 160))
	buf := make([]byte, 1500)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		start := time.Now()
		if _, err := app.conn.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(loopback, uint16(r.A().Port()))); err != nil {
			b.Fatal(err)
		}
		if _, _, err := carrier.conn.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRelayCalls runs concurrent pass-through calls, each 50
// packets/s of 172-byte G.711 in both directions, for b.N rounds of 20 ms,
// and reports loss and the CPU the process used per call (senders and
// receivers of the fake peers included, so the relay's share is lower).
func BenchmarkRelayCalls(b *testing.B) {
	for _, calls := range []int{200, 500} {
		b.Run(strconv.Itoa(calls), func(b *testing.B) { benchmarkCalls(b, calls) })
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchmarkCalls(b *testing.B, calls int) {
	pool := newPool(b, 20000, 20000+8*calls) // below the ephemeral range the peers bind in
	type call struct {
		r            *Relay
		app, carrier *peer
	}
	cs := make([]call, calls)
	var received atomic.Int64
	var wg sync.WaitGroup
	for i := range cs {
		pa, err := pool.Allocate()
		if err != nil {
			b.Fatal(err)
		}
		pb, err := pool.Allocate()
		if err != nil {
			b.Fatal(err)
		}
		c := call{r: NewRelay(pa, pb), app: newPeer(b), carrier: newPeer(b)}
		c.r.A().SetRemote(c.app.addr(), c.app.addr())
		c.r.B().SetRemote(c.carrier.addr(), c.carrier.addr())
		cs[i] = c
		for _, p := range []*peer{c.app, c.carrier} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 1500)
				for {
					if _, _, err := p.conn.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
					received.Add(1)
				}
			}()
		}
	}
	pkt := packet(1, 0, make([]byte, 160))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	sent := 0
	tick := time.NewTicker(20 * time.Millisecond)
	for i := 0; i < b.N; i++ {
		<-tick.C
		for _, c := range cs {
			_, _ = c.app.conn.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(loopback, uint16(c.r.A().Port())))
			_, _ = c.carrier.conn.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(loopback, uint16(c.r.B().Port())))
			sent += 2
		}
	}
	tick.Stop()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	time.Sleep(100 * time.Millisecond)
	b.StopTimer()
	for _, c := range cs {
		c.r.Close()
		c.app.conn.Close()
		c.carrier.conn.Close()
	}
	wg.Wait()
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(calls), "cpu-%/call")
	b.ReportMetric(100*float64(int64(sent)-received.Load())/float64(max(sent, 1)), "loss-%")
}
