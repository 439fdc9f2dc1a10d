package rtp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	pionrtp "github.com/pion/rtp"
)

// Leg is one side of a relay: our sockets toward one peer, where that peer
// is, and what we have seen from it.
type Leg struct {
	pair *Pair

	remote     atomic.Pointer[netip.AddrPort] // RTP destination; from SDP, then latched
	remoteRTCP atomic.Pointer[netip.AddrPort]
	latched    atomic.Bool
	latchedCP  atomic.Bool
	hold       atomic.Bool
	last       atomic.Int64 // unix nanoseconds of the last valid RTP packet

	packets, bytes, sent atomic.Uint64
	dropped, malformed   atomic.Uint64 // wrong source; not RTP
	rtcpIn, rtcpOut      atomic.Uint64
	lost                 atomic.Int64
	firstPT              atomic.Int32

	seq seqTracker // owned by the leg's RTP reader goroutine
}

// Stats is a snapshot of a leg's counters.
type Stats struct {
	Packets   uint64 // valid RTP packets received from the peer
	Bytes     uint64
	Sent      uint64 // RTP packets sent to the peer
	Dropped   uint64 // from a source other than the latched peer
	Malformed uint64 // not RTP at all
	Lost      int64  // RFC 3550 A.3 cumulative loss from sequence numbers
	RTCPIn    uint64
	RTCPOut   uint64
	FirstPT   int // payload type of the first packet, -1 if none
	Peer      netip.AddrPort
}

// Port is the leg's local RTP port.
func (l *Leg) Port() int { return l.pair.Port }

// SetRemote tells the leg where its peer wants media (from SDP). It
// un-latches the leg, so a new offer or answer may move the peer.
func (l *Leg) SetRemote(rtp, rtcp netip.AddrPort) {
	l.remote.Store(&rtp)
	l.remoteRTCP.Store(&rtcp)
	l.latched.Store(false)
	l.latchedCP.Store(false)
}

// SetHold says the peer will not send (sendonly/inactive from its side), so
// its silence must not end the call.
func (l *Leg) SetHold(on bool) { l.hold.Store(on) }

// Stats returns the leg's counters.
func (l *Leg) Stats() Stats {
	s := Stats{
		Packets: l.packets.Load(), Bytes: l.bytes.Load(), Sent: l.sent.Load(),
		Dropped: l.dropped.Load(), Malformed: l.malformed.Load(), Lost: max(l.lost.Load(), 0),
		RTCPIn: l.rtcpIn.Load(), RTCPOut: l.rtcpOut.Load(), FirstPT: int(l.firstPT.Load()),
	}
	if p := l.remote.Load(); p != nil {
		s.Peer = *p
	}
	return s
}

// accept latches the leg on the first source and then admits only it.
// Only latching allocates (once per leg): the per-packet check does not.
func accept(latched *atomic.Bool, remote *atomic.Pointer[netip.AddrPort], src netip.AddrPort) bool {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if latched.Load() {
		p := remote.Load()
		return p != nil && *p == src
	}
	peer := src
	remote.Store(&peer)
	latched.Store(true)
	return true
}

// Relay carries one call's media between two legs.
type Relay struct {
	legs [2]*Leg
	now  func() time.Time

	mu        sync.Mutex
	armed     bool
	timer     *time.Timer
	timeout   time.Duration
	onTimeout func()
	closed    bool

	fired atomic.Bool
	wg    sync.WaitGroup
}

// NewRelay joins the pairs and starts relaying at once (early media flows
// before the call is answered). The media timeout is armed by Arm.
func NewRelay(a, b *Pair) *Relay {
	r := &Relay{legs: [2]*Leg{{pair: a}, {pair: b}}, now: time.Now}
	for _, l := range r.legs {
		l.firstPT.Store(-1)
	}
	for i := range 2 {
		from, to := r.legs[i], r.legs[1-i]
		r.wg.Add(2)
		go func() { defer r.wg.Done(); r.relayRTP(from, to) }()
		go func() { defer r.wg.Done(); r.relayRTCP(from, to) }()
	}
	return r
}

// A is the first leg given to NewRelay (the app's), B the second (the carrier's).
func (r *Relay) A() *Leg { return r.legs[0] }
func (r *Relay) B() *Leg { return r.legs[1] }

// Arm starts the media timeout: when no RTP has arrived on any leg that is
// not on hold for d, onTimeout runs once, on its own goroutine.
func (r *Relay) Arm(d time.Duration, onTimeout func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.armed || d <= 0 {
		return
	}
	r.armed, r.timeout, r.onTimeout = true, d, onTimeout
	armedAt := r.now().UnixNano()
	for _, l := range r.legs {
		l.last.CompareAndSwap(0, armedAt)
	}
	r.timer = time.AfterFunc(d, r.checkTimeout)
}

// checkTimeout runs on the timer and re-arms it for the moment the newest
// packet would expire, so an idle relay costs no wake-ups.
func (r *Relay) checkTimeout() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	now := r.now().UnixNano()
	newest, watching := int64(0), false
	for _, l := range r.legs {
		if l.hold.Load() {
			continue
		}
		watching = true
		newest = max(newest, l.last.Load())
	}
	if !watching {
		r.timer.Reset(r.timeout)
		return
	}
	idle := time.Duration(now - newest)
	if idle < r.timeout {
		r.timer.Reset(r.timeout - idle)
		return
	}
	if r.fired.CompareAndSwap(false, true) {
		go r.onTimeout()
	}
}

// TimedOut reports whether the media timeout fired.
func (r *Relay) TimedOut() bool { return r.fired.Load() }

// Close stops relaying, waits for the goroutines and releases the ports.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	err := errors.Join(r.legs[0].pair.Close(), r.legs[1].pair.Close())
	r.wg.Wait()
	return err
}

const maxPacket = 1500

func (r *Relay) relayRTP(from, to *Leg) {
	buf := make([]byte, maxPacket)
	var h pionrtp.Header
	for {
		n, src, err := from.pair.RTP.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkt := buf[:n]
		// RFC 3550 section 5.1: version 2 and a header that fits the packet.
		if n < 12 || pkt[0]>>6 != 2 {
			from.malformed.Add(1)
			continue
		}
		if _, err := h.Unmarshal(pkt); err != nil || isRTCP(pkt) {
			from.malformed.Add(1)
			continue
		}
		if !accept(&from.latched, &from.remote, src) {
			from.dropped.Add(1)
			continue
		}
		from.packets.Add(1)
		from.bytes.Add(uint64(n))
		from.last.Store(r.now().UnixNano())
		from.firstPT.CompareAndSwap(-1, int32(h.PayloadType))
		from.lost.Store(from.seq.update(h.SequenceNumber))
		if dst := to.remote.Load(); dst != nil && dst.IsValid() && !dst.Addr().IsUnspecified() {
			if _, err := to.pair.RTP.WriteToUDPAddrPort(pkt, *dst); err == nil {
				to.sent.Add(1)
			}
		}
	}
}

// isRTCP tells RTCP from RTP on one port by payload type (RFC 5761 section 4).
func isRTCP(pkt []byte) bool {
	pt := pkt[1] & 0x7f
	return pt >= 64 && pt <= 95
}

func (r *Relay) relayRTCP(from, to *Leg) {
	buf := make([]byte, maxPacket)
	for {
		n, src, err := from.pair.RTCP.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkt := buf[:n]
		// RFC 3550 section 6.4.1: version 2, a sender or receiver report type range.
		if n < 8 || pkt[0]>>6 != 2 || pkt[1] < 192 || pkt[1] > 223 {
			from.malformed.Add(1)
			continue
		}
		if !accept(&from.latchedCP, &from.remoteRTCP, src) {
			from.dropped.Add(1)
			continue
		}
		from.rtcpIn.Add(1)
		if dst := to.remoteRTCP.Load(); dst != nil && dst.IsValid() && !dst.Addr().IsUnspecified() {
			if _, err := to.pair.RTCP.WriteToUDPAddrPort(pkt, *dst); err == nil {
				to.rtcpOut.Add(1)
			}
		}
	}
}

// seqTracker estimates loss as RFC 3550 appendix A.3 does: packets expected
// from the extended highest sequence number, less packets received.
// Reordered and duplicate packets are tolerated.
type seqTracker struct {
	started  bool
	base     uint32
	maxSeq   uint16
	cycles   uint32
	received int64
}

func (s *seqTracker) update(seq uint16) int64 {
	if !s.started {
		s.started, s.base, s.maxSeq = true, uint32(seq), seq
		s.received = 1
		return 0
	}
	s.received++
	delta := seq - s.maxSeq
	switch {
	case delta == 0:
		s.received-- // duplicate
	case delta < 0x8000:
		if seq < s.maxSeq {
			s.cycles += 1 << 16 // wrapped
		}
		s.maxSeq = seq
	}
	expected := int64(s.cycles+uint32(s.maxSeq)) - int64(s.base) + 1
	return expected - s.received
}
