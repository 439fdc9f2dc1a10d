package rtp

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// spray sends RTP from p to port every gap until stop is closed: in
// sequence from seq, or with random sequence numbers when random. Each
// payload starts with tag. It returns how many packets were sent once
// stopped.
func spray(tb testing.TB, p *peer, port int, tag string, seq uint16, random bool, gap time.Duration, stop <-chan struct{}) func() int {
	tb.Helper()
	var wg sync.WaitGroup
	sent := 0
	to := netip.AddrPortFrom(loopback(), uint16(port))
	wg.Go(func() {
		t := time.NewTicker(gap)
		defer t.Stop()
		for ; ; seq++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			s := seq
			if random {
				s = uint16(rand.N(1 << 16))
			}
			if _, err := p.conn.WriteToUDPAddrPort(packetSSRC(0xbad, s, 0, []byte(tag)), to); err == nil {
				sent++
			}
		}
	})
	return func() int { wg.Wait(); return sent }
}

// stream sends n packets in sequence from p to port, gap apart, each
// payload tag.
func stream(tb testing.TB, p *peer, port int, tag string, seq uint16, n int, gap time.Duration) {
	tb.Helper()
	for i := range n {
		p.send(tb, port, packetSSRC(0x600d, seq+uint16(i), 0, []byte(tag)))
		time.Sleep(gap)
	}
}

// tally reads what p receives until it has want packets tagged tag or
// nothing comes for a while, and counts the packets by tag.
func tally(tb testing.TB, p *peer, tag string, want int) map[string]int {
	tb.Helper()
	got := map[string]int{}
	buf := make([]byte, 1500)
	for got[tag] < want {
		_ = p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		got[string(buf[12:n])]++
	}
	p.quiet(tb, 50*time.Millisecond)
	return got
}

// TestStrictAttackerFirst: an attacker sprays the leg's port, in sequence
// and at random, from before the call is answered; the real peer, at its
// SDP address, starts a second after the answer and sends 200 packets.
// Not one of the attacker's packets may reach the other side, and all of
// the peer's must.
func TestStrictAttackerFirst(t *testing.T) {
	for _, leg := range []string{"app", "carrier"} {
		t.Run(leg, func(t *testing.T) {
			t.Parallel()
			r, app, carrier := newRelay(t, DefaultStrict())
			from, to, l := app, carrier, r.A()
			if leg == "carrier" {
				from, to, l = carrier, app, r.B()
			}
			stop := make(chan struct{})
			inSeq := spray(t, newPeer(t), l.Port(), "attack", 1000, false, time.Millisecond, stop)
			random := spray(t, newPeer(t), l.Port(), "attack", 0, true, time.Millisecond, stop)
			time.Sleep(200 * time.Millisecond) // ringing
			r.Arm(time.Minute, func() {})
			time.Sleep(time.Second)
			stream(t, from, l.Port(), "peer", 1, 200, time.Millisecond)
			close(stop)
			sprayed := inSeq() + random()
			got := tally(t, to, "peer", 200)
			if got["attack"] != 0 || got["peer"] != 200 {
				t.Errorf("the %s's far end got %v, want 200 of the peer's packets and none of the attacker's", leg, got)
			}
			waitFor(t, "the attacker's packets to be counted", func() bool { return l.Stats().Dropped+l.Stats().Malformed >= uint64(sprayed)*9/10 })
			if s := l.Stats(); s.Peer != from.addr() || !s.Latched {
				t.Errorf("%s leg Stats() = %+v, want latched on %v", leg, s, from.addr())
			}
		})
	}
}

// TestStrictLearning: the sources a strict leg takes and the ones it does
// not, with a short quiet time.
func TestStrictLearning(t *testing.T) {
	const quiet = 100 * time.Millisecond
	strict := Strict{Enabled: true, Probation: 4, Quiet: quiet}
	tests := []struct {
		name string
		run  func(t *testing.T, r *Relay, app, carrier *peer)
	}{
		{"a peer behind NAT is learned after probation", func(t *testing.T, r *Relay, app, carrier *peer) {
			r.Arm(time.Minute, func() {})
			time.Sleep(quiet) // the SDP address stays silent
			nat := newPeer(t)
			stream(t, nat, r.A().Port(), "nat", 7, 10, 5*time.Millisecond)
			if got := tally(t, carrier, "nat", 7); got["nat"] != 7 {
				t.Errorf("carrier got %v, want the 7 packets from the 4th on", got)
			}
			if s := r.A().Stats(); s.Peer != nat.addr() || s.Dropped != 3 {
				t.Errorf("app leg Stats() = %+v, want latched on %v after 3 dropped", s, nat.addr())
			}
			carrier.send(t, r.B().Port(), packet(1, 0, []byte("to app")))
			if got, _ := nat.recv(t); string(got[12:]) != "to app" {
				t.Errorf("learned peer got %q, want %q", got[12:], "to app")
			}
		}},
		{"no source is learned before the answer", func(t *testing.T, r *Relay, app, carrier *peer) {
			stream(t, newPeer(t), r.A().Port(), "early", 1, 20, 10*time.Millisecond)
			carrier.quiet(t, 50*time.Millisecond)
			if s := r.A().Stats(); s.Latched || s.Dropped != 20 {
				t.Errorf("app leg Stats() = %+v, want 20 dropped, not latched", s)
			}
		}},
		{"random sequence numbers never latch", func(t *testing.T, r *Relay, app, carrier *peer) {
			r.Arm(time.Minute, func() {})
			stop := make(chan struct{})
			done := spray(t, newPeer(t), r.A().Port(), "spoof", 0, true, 2*time.Millisecond, stop)
			time.Sleep(4 * quiet)
			close(stop)
			sent := done()
			carrier.quiet(t, 50*time.Millisecond)
			waitFor(t, "the spoofer's packets to be counted", func() bool { return r.A().Stats().Dropped >= uint64(sent)*9/10 })
			if s := r.A().Stats(); s.Latched || s.Packets != 0 {
				t.Errorf("app leg Stats() = %+v, want nothing taken", s)
			}
		}},
		{"an attacker is not learned while the peer sends", func(t *testing.T, r *Relay, app, carrier *peer) {
			r.Arm(time.Minute, func() {})
			stop := make(chan struct{})
			done := spray(t, newPeer(t), r.A().Port(), "attack", 500, false, 2*time.Millisecond, stop)
			stream(t, app, r.A().Port(), "peer", 1, 50, 10*time.Millisecond) // 20 ms apart is a packet time; under quiet either way
			close(stop)
			done()
			if got := tally(t, carrier, "peer", 50); got["attack"] != 0 || got["peer"] != 50 {
				t.Errorf("carrier got %v, want 50 of the peer's packets and none of the attacker's", got)
			}
		}},
		{"a peer that moves by SDP is followed", func(t *testing.T, r *Relay, app, carrier *peer) {
			r.Arm(time.Minute, func() {})
			app.send(t, r.A().Port(), packet(1, 0, []byte("before")))
			carrier.recv(t)
			moved := newPeer(t)
			r.A().SetRemote(moved.addr(), rtcpOf(moved))
			moved.send(t, r.A().Port(), packet(2, 0, []byte("after")))
			if got, _ := carrier.recv(t); string(got[12:]) != "after" {
				t.Errorf("carrier got %q, want the moved peer's first packet", got[12:])
			}
			app.send(t, r.A().Port(), packet(3, 0, []byte("stale")))
			carrier.quiet(t, 50*time.Millisecond)
			if s := r.A().Stats(); s.Peer != moved.addr() || s.Dropped != 1 {
				t.Errorf("app leg Stats() = %+v, want latched on %v, the old address dropped", s, moved.addr())
			}
		}},
		{"the SDP address takes the leg back from a learned source", func(t *testing.T, r *Relay, app, carrier *peer) {
			r.Arm(time.Minute, func() {})
			time.Sleep(quiet)
			nat := newPeer(t)
			stream(t, nat, r.A().Port(), "nat", 1, 4, 5*time.Millisecond)
			tally(t, carrier, "nat", 1)
			app.send(t, r.A().Port(), packet(1, 0, []byte("sdp")))
			if got := tally(t, carrier, "sdp", 1); got["sdp"] != 1 {
				t.Errorf("carrier got %v, want the SDP address's packet", got)
			}
			if s := r.A().Stats(); s.Peer != app.addr() {
				t.Errorf("app leg Stats() = %+v, want latched on %v", s, app.addr())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, app, carrier := newRelay(t, strict)
			tt.run(t, r, app, carrier)
		})
	}
}

// TestStrictRTCPFollowsRTP: RTCP is taken from the SDP's RTCP address and
// from the port above the learned RTP source, not from elsewhere.
func TestStrictRTCPFollowsRTP(t *testing.T) {
	r, _, carrier := newRelay(t, Strict{Enabled: true, Probation: 2, Quiet: time.Millisecond})
	carrierRTCP := newPeer(t)
	r.B().SetRemote(carrier.addr(), carrierRTCP.addr())
	r.Arm(time.Minute, func() {})
	// A peer behind NAT with RTP and RTCP on adjacent ports (below the
	// ephemeral range, like the relays' own).
	var natRTP, natRTCP *peer
	for port := relayPorts + 300; natRTCP == nil && port < relayPorts+400; port += 2 {
		natRTP, natRTCP = bindPeer(port), bindPeer(port+1)
		if natRTP == nil || natRTCP == nil {
			natRTP, natRTCP = nil, nil
		}
	}
	if natRTCP == nil {
		t.Skip("no adjacent pair of ports free")
	}
	t.Cleanup(func() { natRTP.conn.Close(); natRTCP.conn.Close() })
	time.Sleep(5 * time.Millisecond)
	stream(t, natRTP, r.A().Port(), "nat", 1, 3, 5*time.Millisecond)
	tally(t, carrier, "nat", 2)
	rr := []byte{0x81, 201, 0, 7, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	newPeer(t).send(t, r.A().Port()+1, rr) // a stranger
	natRTCP.send(t, r.A().Port()+1, rr)
	if got, _ := carrierRTCP.recv(t); !bytes.Equal(got, rr) {
		t.Errorf("carrier RTCP got %x, want the learned peer's %x", got, rr)
	}
	carrierRTCP.quiet(t, 50*time.Millisecond)
	waitFor(t, "the stranger's RTCP to be dropped", func() bool { return r.A().Stats().RTCPIn == 1 })
}

// bindPeer is a peer on port of loopback, or nil when the port is taken.
func bindPeer(port int) *peer {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback(), uint16(port))))
	if err != nil {
		return nil
	}
	return &peer{conn: c}
}
