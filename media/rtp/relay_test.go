package rtp

import (
	"bytes"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	dto "github.com/prometheus/client_model/go"
)

// Port ranges of these tests sit below 32000: under Linux's ephemeral range
// (32768-60999), where the fake peers' sockets land, and under the blocks
// the e2e tests hand out (32000 up), so no other socket takes them.
const (
	relayPorts = 30000 // relays of the tests: 30000-30199
	poolPorts  = 31000 // the small pool of the pool tests: 31000-31009
	benchPorts = 31100 // BenchmarkForward: 31100-31199
)

func loopback() netip.Addr { return netip.MustParseAddr("127.0.0.1") }

func newPool(tb testing.TB, min, max int) *PortPool {
	tb.Helper()
	p, err := NewPortPool(loopback(), min, max)
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
	return packetSSRC(0x1234, seq, pt, payload)
}

func packetSSRC(ssrc uint32, seq uint16, pt uint8, payload []byte) []byte {
	pkt := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

func (p *peer) send(tb testing.TB, to int, b []byte) {
	tb.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(b, netip.AddrPortFrom(loopback(), uint16(to))); err != nil {
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

// quiet asserts that nothing arrives for a while.
func (p *peer) quiet(tb testing.TB, d time.Duration) {
	tb.Helper()
	buf := make([]byte, 1500)
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	if n, src, err := p.conn.ReadFromUDPAddrPort(buf); err == nil {
		tb.Fatalf("got %x from %v, want nothing", buf[:n], src)
	}
}

func rtcpOf(p *peer) netip.AddrPort { return netip.AddrPortFrom(loopback(), p.addr().Port()+1) }

// newRelay is a relay on loopback between an app and a carrier whose SDP
// addresses are set, taking sources as s says.
func newRelay(t *testing.T, s Strict) (*Relay, *peer, *peer) {
	t.Helper()
	pool := newPool(t, relayPorts, relayPorts+199)
	a, err := pool.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pool.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	r := NewRelay(a, b, s)
	t.Cleanup(func() { r.Close() })
	app, carrier := newPeer(t), newPeer(t)
	r.A().SetRemote(app.addr(), rtcpOf(app))
	r.B().SetRemote(carrier.addr(), rtcpOf(carrier))
	return r, app, carrier
}

// waitFor polls cond: the relay counts a packet a moment after it comes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// timed is how many packets PacketSeconds has counted.
func timed() uint64 {
	var m dto.Metric
	_ = PacketSeconds.Write(&m)
	return m.GetHistogram().GetSampleCount()
}

func TestRelayPassesPacketsBothWays(t *testing.T) {
	before := timed()
	r, app, carrier := newRelay(t, DefaultStrict())
	for i := range 5 {
		want := packet(uint16(100+i), 0, bytes.Repeat([]byte{0xff}, 160))
		app.send(t, r.A().Port(), want)
		got, src := carrier.recv(t)
		if !bytes.Equal(got, want) || int(src.Port()) != r.B().Port() {
			t.Fatalf("carrier got %x from %v, want %x from port %d", got, src, want, r.B().Port())
		}
	}
	dtmf := packet(7, 101, []byte{1, 0x8a, 0, 160}) // an RFC 4733 event passes untouched
	carrier.send(t, r.B().Port(), dtmf)
	if got, src := app.recv(t); !bytes.Equal(got, dtmf) || int(src.Port()) != r.A().Port() {
		t.Errorf("app got %x from %v, want the telephone-event %x from port %d", got, src, dtmf, r.A().Port())
	}
	// Sent counts just after the write: the peer may read the packet first.
	waitFor(t, "the sent counters", func() bool { return r.A().Stats().Sent == 1 && r.B().Stats().Sent == 5 })
	if s := r.A().Stats(); s.Packets != 5 || s.Bytes != 5*172 || s.Sent != 1 || s.SentBytes != 16 || s.FirstPT != 0 || s.Lost != 0 || !s.Latched || s.Peer != app.addr() {
		t.Errorf("app leg Stats() = %+v, want 5 packets (860 bytes) of PT 0 in, 1 (16 bytes) out, none lost, latched on %v", s, app.addr())
	}
	if s := r.B().Stats(); s.Packets != 1 || s.Sent != 5 || s.SentBytes != 5*172 || s.FirstPT != 101 {
		t.Errorf("carrier leg Stats() = %+v, want 1 packet of PT 101 in, 5 out", s)
	}
	// Tests in parallel may add theirs: at least these six were timed.
	if n := timed() - before; n < 6 {
		t.Errorf("PacketSeconds counted %d packets of this relay, want 6 or more", n)
	}
}

func TestRelayHoldsMediaUntilTheAddressIsKnown(t *testing.T) {
	pool := newPool(t, relayPorts, relayPorts+199)
	a, _ := pool.Allocate()
	b, _ := pool.Allocate()
	r := NewRelay(a, b, Strict{}) // c=0.0.0.0 below: only a loose leg learns the carrier at its first packet
	defer r.Close()
	app, carrier := newPeer(t), newPeer(t)
	r.A().SetRemote(app.addr(), rtcpOf(app))
	// The carrier's SDP comes only with its 183 or 200.
	app.send(t, r.A().Port(), packet(1, 0, []byte("early")))
	waitFor(t, "the packet to be counted unsent", func() bool { return r.B().Stats().Unsent == 1 })
	r.B().SetRemote(carrier.addr(), rtcpOf(carrier))
	app.send(t, r.A().Port(), packet(2, 0, []byte("after 183")))
	if got, _ := carrier.recv(t); string(got[12:]) != "after 183" {
		t.Errorf("carrier got %q, want %q", got[12:], "after 183")
	}
	// c=0.0.0.0: nothing is sent until the carrier's own packets show where it is.
	r.B().SetRemote(netip.MustParseAddrPort("0.0.0.0:9"), netip.MustParseAddrPort("0.0.0.0:10"))
	app.send(t, r.A().Port(), packet(3, 0, []byte("held")))
	carrier.quiet(t, 50*time.Millisecond)
	carrier.send(t, r.B().Port(), packet(1, 0, []byte("I am here")))
	app.recv(t)
	app.send(t, r.A().Port(), packet(4, 0, []byte("latched")))
	if got, _ := carrier.recv(t); string(got[12:]) != "latched" {
		t.Errorf("carrier got %q, want %q", got[12:], "latched")
	}
}

// TestRelayLatchesAndDropsBleed: with strict RTP off, the first source wins.
func TestRelayLatchesAndDropsBleed(t *testing.T) {
	r, app, carrier := newRelay(t, Strict{})
	// The app is behind NAT: its packets come from another port than its SDP says.
	nat := newPeer(t)
	nat.send(t, r.A().Port(), packet(1, 0, []byte("first")))
	carrier.recv(t)
	// Media to the app now goes to where its packets come from, not to its SDP address.
	carrier.send(t, r.B().Port(), packet(1, 0, []byte("to app")))
	if got, _ := nat.recv(t); string(got[12:]) != "to app" {
		t.Errorf("latched app got %q, want %q", got[12:], "to app")
	}
	app.quiet(t, 20*time.Millisecond)
	// Anyone else sending to the app's port is dropped: no bleed.
	intruder := newPeer(t)
	intruder.send(t, r.A().Port(), packet(2, 0, []byte("bleed")))
	app.send(t, r.A().Port(), packet(2, 0, []byte("bleed from the SDP address")))
	nat.send(t, r.A().Port(), packet(2, 0, []byte("second")))
	if got, _ := carrier.recv(t); string(got[12:]) != "second" {
		t.Errorf("carrier got %q, want only the latched source's %q", got[12:], "second")
	}
	if s := r.A().Stats(); s.Dropped != 2 || s.Packets != 2 || s.Peer != nat.addr() {
		t.Errorf("app leg Stats() = %+v, want 2 packets, 2 dropped, peer %v", s, nat.addr())
	}
}

// TestSetRemoteKeepsOrMovesTheLatch, with strict RTP off (strict_test.go
// has the strict leg's moves).
func TestSetRemoteKeepsOrMovesTheLatch(t *testing.T) {
	r, app, carrier := newRelay(t, Strict{})
	nat := newPeer(t)
	nat.send(t, r.A().Port(), packet(1, 0, []byte("x")))
	carrier.recv(t)

	// The same SDP again (the 200 repeating the 183) keeps the latch.
	r.A().SetRemote(app.addr(), rtcpOf(app))
	if s := r.A().Stats(); !s.Latched || s.Peer != nat.addr() {
		t.Errorf("after the same SetRemote, Stats() = %+v, want still latched on %v", s, nat.addr())
	}
	// A re-INVITE that moves the app un-latches: the next packet's source wins.
	moved := newPeer(t)
	r.A().SetRemote(moved.addr(), rtcpOf(moved))
	if s := r.A().Stats(); s.Latched || s.Peer != moved.addr() {
		t.Errorf("after a new SetRemote, Stats() = %+v, want un-latched, peer %v", s, moved.addr())
	}
	moved.send(t, r.A().Port(), packet(2, 0, []byte("y")))
	carrier.recv(t)
	nat.send(t, r.A().Port(), packet(3, 0, []byte("old")))
	waitFor(t, "the old source to be dropped", func() bool { return r.A().Stats().Dropped == 1 })
}

func TestRelayDropsGarbage(t *testing.T) {
	r, app, carrier := newRelay(t, DefaultStrict())
	garbage := map[string][]byte{
		"one byte":                    {0},
		"text":                        []byte("not rtp at all, just text"),
		"short header":                packet(1, 0, nil)[:11],
		"version 1":                   append([]byte{0x40}, packet(1, 0, []byte("v1"))[1:]...),
		"CSRCs past the end":          {0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
		"extension past the end":      {0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 9, 0, 0, 0, 0},
		"padding longer than payload": {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 200},
		"zero padding count":          {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0},
		"RTCP on the RTP port":        {0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"bigger than the MTU":         packet(1, 0, make([]byte, 1600)),
	}
	for _, g := range garbage {
		app.send(t, r.A().Port(), g)
	}
	app.send(t, r.A().Port(), packet(9, 8, []byte("ok")))
	if got, _ := carrier.recv(t); string(got[12:]) != "ok" {
		t.Errorf("carrier got %q, want only the valid packet", got)
	}
	if s := r.A().Stats(); s.Malformed != uint64(len(garbage)) || s.Packets != 1 || s.FirstPT != 8 {
		t.Errorf("Stats() = %+v, want %d malformed, 1 packet of PT 8", s, len(garbage))
	}
}

func TestRelayCountsLoss(t *testing.T) {
	r, app, carrier := newRelay(t, DefaultStrict())
	for _, seq := range []uint16{65530, 65531, 65534, 65533, 2, 3} { // 65532, 65535, 0, 1 never come; one reordered
		app.send(t, r.A().Port(), packet(seq, 0, []byte("x")))
		carrier.recv(t)
	}
	if s := r.A().Stats(); s.Lost != 4 || s.Packets != 6 {
		t.Errorf("Stats() = %+v, want 6 packets, 4 lost", s)
	}
}

func TestRelayRTCP(t *testing.T) {
	r, app, carrier := newRelay(t, DefaultStrict())
	appRTCP, carrierRTCP := newPeer(t), newPeer(t)
	r.A().SetRemote(app.addr(), appRTCP.addr())
	r.B().SetRemote(carrier.addr(), carrierRTCP.addr())
	rr := []byte{0x81, 201, 0, 7, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	appRTCP.send(t, r.A().Port()+1, rr)
	if got, src := carrierRTCP.recv(t); !bytes.Equal(got, rr) || int(src.Port()) != r.B().Port()+1 {
		t.Errorf("carrier RTCP got %x from %v, want %x from port %d", got, src, rr, r.B().Port()+1)
	}
	carrierRTCP.send(t, r.B().Port()+1, rr)
	if got, _ := appRTCP.recv(t); !bytes.Equal(got, rr) {
		t.Errorf("app RTCP got %x, want %x", got, rr)
	}
	// Garbage and a stranger's RTCP are dropped.
	appRTCP.send(t, r.A().Port()+1, []byte("junk"))
	appRTCP.send(t, r.A().Port()+1, rr[:20]) // length says 32
	newPeer(t).send(t, r.A().Port()+1, rr)
	carrierRTCP.quiet(t, 50*time.Millisecond)
	waitFor(t, "the app leg's RTCP counters", func() bool {
		s := r.A().Stats()
		return s.RTCPIn == 1 && s.RTCPOut == 1 && s.Malformed == 2 && s.Dropped == 1
	})
}

func TestMediaTimeout(t *testing.T) {
	r, app, carrier := newRelay(t, DefaultStrict())
	var fired atomic.Int32
	done := make(chan struct{})
	r.Arm(300*time.Millisecond, func() { fired.Add(1); close(done) })
	r.Arm(time.Millisecond, func() { t.Error("a second Arm took effect") })
	// Packets keep it alive, from either leg.
	for i := range 8 {
		if i%2 == 0 {
			app.send(t, r.A().Port(), packet(uint16(i), 0, []byte("x")))
			carrier.recv(t)
		} else {
			carrier.send(t, r.B().Port(), packet(uint16(i), 0, []byte("x")))
			app.recv(t)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if fired.Load() != 0 || r.TimedOut() {
		t.Fatal("media timeout fired while packets flowed")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("media timeout did not fire after packets stopped")
	}
	time.Sleep(400 * time.Millisecond)
	if n := fired.Load(); n != 1 || !r.TimedOut() {
		t.Errorf("media timeout fired %d times (TimedOut %v), want once", n, r.TimedOut())
	}
}

func TestMediaTimeoutWaitsForArm(t *testing.T) {
	r, _, _ := newRelay(t, DefaultStrict())
	// Early media may be silent for as long as the carrier rings: no timeout before Arm.
	time.Sleep(100 * time.Millisecond)
	var fired atomic.Bool
	done := make(chan struct{})
	r.Arm(150*time.Millisecond, func() { fired.Store(true); close(done) })
	time.Sleep(50 * time.Millisecond)
	if fired.Load() {
		t.Fatal("media timeout counted the silence before Arm")
	}
	<-done
}

func TestMediaTimeoutHold(t *testing.T) {
	r, app, _ := newRelay(t, DefaultStrict())
	// The app holds with sendonly: it may send music on hold, the carrier
	// (answered recvonly) sends nothing. Then it goes silent too.
	r.A().SetHold(true)
	var fired atomic.Int32
	done := make(chan struct{})
	r.Arm(200*time.Millisecond, func() { fired.Add(1); close(done) })
	app.send(t, r.A().Port(), packet(1, 0, []byte("music")))
	time.Sleep(600 * time.Millisecond)
	if fired.Load() != 0 {
		t.Fatal("media timeout fired while a leg is on hold")
	}
	// Off hold, silence counts again, from that moment.
	r.A().SetHold(false)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("media timeout did not fire after the hold ended")
	}
}

func TestCloseFromTimeoutCallback(t *testing.T) {
	r, _, _ := newRelay(t, DefaultStrict())
	closed := make(chan error)
	r.Arm(50*time.Millisecond, func() { closed <- r.Close() })
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close() from the timeout callback = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close() from the timeout callback deadlocked")
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	r.Arm(time.Millisecond, func() { t.Error("Arm after Close took effect") })
}

// TestForwardDoesNotAllocate: the round trip app -> relay -> carrier,
// counted over the whole process, the relay's goroutines included.
func TestForwardDoesNotAllocate(t *testing.T) {
	r, app, carrier := newRelay(t, DefaultStrict())
	pkt := packet(1, 0, make([]byte, 160))
	to := netip.AddrPortFrom(loopback(), uint16(r.A().Port()))
	buf := make([]byte, 1500)
	_ = carrier.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	seq := uint16(0)
	roundTrip := func() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		if _, err := app.conn.WriteToUDPAddrPort(pkt, to); err != nil {
			t.Fatal(err)
		}
		if _, _, err := carrier.conn.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip() // latching allocates once
	if n := testing.AllocsPerRun(500, roundTrip); n != 0 {
		t.Errorf("forwarding a packet allocates %v times, want 0", n)
	}
}
