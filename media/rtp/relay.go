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

// Endpoint is a leg's peer reached other than by plain RTP on a socket
// pair of ours: a WebRTC peer connection (package media/webrtc), which does
// its own ICE, DTLS-SRTP and RTCP. ReadRTP blocks for the next RTP packet
// from the peer, header included, and fails for good once the endpoint is
// closed; WriteRTP sends one. The relay calls ReadRTP from one goroutine
// and WriteRTP from another, and Close when the relay closes.
type Endpoint interface {
	ReadRTP(b []byte) (int, error)
	WriteRTP(b []byte) error
	Close() error
}

// Processor rewrites the packets of one direction of a relay, when the legs
// do not carry the same payload: transcoding between Opus and G.711,
// telephone-events between clocks (package media/bridge). One packet in
// may make none, one or several out: a packetizer that sends a fixed
// packet time holds part of a packet back, or sends audio it made up for
// a loss as packets of its own.
//
// Process gets a valid RTP packet pkt whose parsed header is h, writes the
// first packet to send into out (which holds MaxPacket bytes) and returns
// its length, or 0 when it has nothing to send. The relay then calls Next
// with out again, once sent, for each further packet, until Next returns
// 0. Both are called from the one goroutine that reads the direction, so
// they need no locking; they must not allocate or block.
type Processor interface {
	Process(out, pkt []byte, h *pionrtp.Header) int
	Next(out []byte) int
}

// MaxPacket is the largest packet a relay reads or a Processor writes.
const MaxPacket = maxPacket

// Leg is one side of a relay: our socket pair toward one peer (or an
// Endpoint), where that peer is, and what we have seen from it. Its
// methods are safe for concurrent use.
type Leg struct {
	pair   *Pair                   // plain RTP and RTCP on our ports; nil for an endpoint
	ep     Endpoint                // nil for a pair
	strict Strict                  // how a pair's leg chooses its source; fixed by Join
	proc   atomic.Pointer[procBox] // rewrites what this leg receives before it is sent on

	sdpRTP, sdpRTCP   atomic.Pointer[netip.AddrPort] // from SetRemote; nil until then
	peerRTP, peerRTCP atomic.Pointer[netip.AddrPort] // latched source; nil until the peer sends
	hold              atomic.Bool
	last              atomic.Int64 // unix nanoseconds of the last valid RTP packet, or of leaving hold
	waiting           atomic.Int64 // unix nanoseconds of the answer or of a later new SDP address; 0 before the answer

	packets, bytes, sent, sentBytes, unsent atomic.Uint64
	dropped, malformed, rtcpIn, rtcpOut     atomic.Uint64
	lost                                    atomic.Int64
	firstPT                                 atomic.Int32

	seq   seqTracker // owned by the leg's RTP reader goroutine
	probe probe      // likewise
}

// Stats is a snapshot of a leg's counters. Each is read atomically; they
// are not all read at one instant.
type Stats struct {
	Packets   uint64 // valid RTP packets received from the peer, telephone-events included
	Bytes     uint64 // their size as UDP payload, RTP header included
	Sent      uint64 // RTP packets sent to the peer (relayed from the other leg)
	SentBytes uint64
	Unsent    uint64 // RTP packets for the peer not sent: its address not known yet, or the write failed
	Dropped   uint64 // RTP and RTCP from a source the leg does not take media from (RTP bleed, spoofing; see Strict)
	Malformed uint64 // datagrams that are not RTP (on the RTP port) or RTCP (on the RTCP port)
	Lost      int64  // packets the peer sent that never came, from sequence numbers (RFC 3550 A.3)
	RTCPIn    uint64 // RTCP packets received from the peer
	RTCPOut   uint64 // RTCP packets sent to the peer
	FirstPT   int    // payload type of the first packet received (the codec), -1 before any
	// Peer is where RTP for the peer goes now: the latched source, else
	// the SDP address; zero before either is known.
	Peer    netip.AddrPort
	Latched bool
}

// procBox holds a Processor for an atomic swap; a nil p passes through.
type procBox struct{ p Processor }

// Port is the leg's local RTP port; RTCP is on Port()+1. The SDP sent to
// this leg's peer names it, with the switch's advertised IP. An endpoint's
// leg has none: 0.
func (l *Leg) Port() int {
	if l.pair == nil {
		return 0
	}
	return l.pair.Port
}

// SetProcessor sets what rewrites the packets this leg receives before the
// other leg sends them; nil passes them through unmodified. It takes
// effect from the next packet; the processor it replaces is no longer
// called once the next packet has been read.
func (l *Leg) SetProcessor(p Processor) {
	l.proc.Store(&procBox{p: p})
}

func (l *Leg) processor() Processor {
	if b := l.proc.Load(); b != nil {
		return b.p
	}
	return nil
}

// SetRemote tells the leg where its peer wants RTP and RTCP, from the
// peer's SDP (the app's offer; the carrier's 183 or 200). Until the peer
// sends, media goes there. An address that changes un-latches the leg, so
// the peer may move with a new offer or answer; the same address again (the
// 200 repeating the 183's SDP) keeps the latch. An unspecified address
// (c=0.0.0.0) sends nothing until the peer's first packet. On a strict leg
// the new address is taken at once, and a source other than it is learned
// only after Quiet from now (see Strict).
func (l *Leg) SetRemote(rtp, rtcp netip.AddrPort) {
	rtp, rtcp = unmap(rtp), unmap(rtcp)
	if p := l.sdpRTP.Load(); p == nil || *p != rtp {
		l.sdpRTP.Store(&rtp)
		l.peerRTP.Store(nil)
		if l.waiting.Load() != 0 {
			l.waiting.Store(time.Now().UnixNano())
		}
	}
	if p := l.sdpRTCP.Load(); p == nil || *p != rtcp {
		l.sdpRTCP.Store(&rtcp)
		l.peerRTCP.Store(nil)
	}
}

// SetHold says whether the peer has put the call on hold: its SDP said
// sendonly or inactive (RFC 3264 section 8.4). While any leg is on hold the
// media timeout does not run, since a held call may be silent both ways;
// leaving hold starts the timeout's count again.
func (l *Leg) SetHold(on bool) {
	if l.hold.Swap(on) && !on {
		l.last.Store(time.Now().UnixNano())
	}
}

// Stats returns the leg's counters.
func (l *Leg) Stats() Stats {
	s := Stats{
		Packets: l.packets.Load(), Bytes: l.bytes.Load(),
		Sent: l.sent.Load(), SentBytes: l.sentBytes.Load(), Unsent: l.unsent.Load(),
		Dropped: l.dropped.Load(), Malformed: l.malformed.Load(), Lost: l.lost.Load(),
		RTCPIn: l.rtcpIn.Load(), RTCPOut: l.rtcpOut.Load(), FirstPT: int(l.firstPT.Load()),
	}
	if p := l.peerRTP.Load(); p != nil {
		s.Peer, s.Latched = *p, true
	} else if p := l.sdpRTP.Load(); p != nil {
		s.Peer = *p
	}
	return s
}

// dest is where to send to the peer, and false when nowhere yet.
func dest(peer, sdp *atomic.Pointer[netip.AddrPort]) (netip.AddrPort, bool) {
	p := peer.Load()
	if p == nil {
		p = sdp.Load()
	}
	if p == nil || !p.IsValid() || p.Port() == 0 || p.Addr().IsUnspecified() {
		return netip.AddrPort{}, false
	}
	return *p, true
}

// accept latches on the first source and then admits only it: a leg whose
// Strict is off. Latching allocates (once per leg and address); the check
// does not.
func accept(peer *atomic.Pointer[netip.AddrPort], src netip.AddrPort) bool {
	if p := peer.Load(); p != nil {
		return *p == src
	}
	latched := src
	peer.Store(&latched)
	return true
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// Relay carries one call's media between two legs: A, the app's, and B,
// the carrier's.
type Relay struct {
	legs [2]*Leg

	mu      sync.Mutex
	armed   bool
	closed  bool
	done    chan struct{} // closed by Close
	armedAt atomic.Int64  // unix nanoseconds
	fired   atomic.Bool
	wg      sync.WaitGroup // the readers and the watcher
}

// NewRelay joins the pairs, a the app's and b the carrier's, and starts
// relaying at once: early media flows before the call is answered. Each
// leg takes its media from the sources s allows. The media timeout waits
// for Arm. The relay owns the pairs from now on and closes them in Close.
func NewRelay(a, b *Pair, s Strict) *Relay {
	return Join(Side{Pair: a}, Side{Pair: b}, s)
}

// Side is what one leg of a relay talks through: a socket pair of ours
// (plain RTP, latched) or an Endpoint (a WebRTC peer). Exactly one is set.
type Side struct {
	Pair     *Pair
	Endpoint Endpoint
}

// Join is NewRelay for legs of either kind. RTCP is relayed between two
// pairs; an endpoint terminates its own RTCP, so what a pair's peer sends
// toward it is counted and dropped. s applies to the pairs' legs only: an
// endpoint's peer is who completed its ICE and DTLS handshakes. Zero
// fields of an enabled s take DefaultStrict's values.
func Join(a, b Side, s Strict) *Relay {
	r := &Relay{legs: [2]*Leg{{pair: a.Pair, ep: a.Endpoint}, {pair: b.Pair, ep: b.Endpoint}}, done: make(chan struct{})}
	for _, l := range r.legs {
		l.firstPT.Store(-1)
		l.strict = s.withDefaults()
	}
	for i := range 2 {
		from, to := r.legs[i], r.legs[1-i]
		r.wg.Add(1)
		go func() { defer r.wg.Done(); relayRTP(from, to) }()
		if from.pair != nil {
			r.wg.Add(1)
			go func() { defer r.wg.Done(); relayRTCP(from, to) }()
		}
	}
	return r
}

// A is the app's leg, the first pair given to NewRelay.
func (r *Relay) A() *Leg { return r.legs[0] }

// B is the carrier's leg, the second pair given to NewRelay.
func (r *Relay) B() *Leg { return r.legs[1] }

// Arm tells the relay the call is answered (the call controller does at
// answer). Strict legs may learn a new source from Quiet after it (see
// Strict). It starts the media timeout: when no RTP has arrived on either
// leg for d, and no leg is on hold, onTimeout is called once. A watcher
// goroutine per relay sleeps on a timer set to the moment the newest
// packet would expire, so a relay costs one wake-up per d, whatever its
// packet rate; there is no polling loop. onTimeout runs on the watcher's
// goroutine after the watcher has stopped, so it may call Close; Close
// does not wait for it. A d of zero or less arms no timeout. A second Arm,
// or an Arm after Close, does nothing.
func (r *Relay) Arm(d time.Duration, onTimeout func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.armed {
		return
	}
	r.armed = true
	now := time.Now().UnixNano()
	for _, l := range r.legs {
		l.waiting.Store(now)
	}
	if d <= 0 {
		return
	}
	r.armedAt.Store(now)
	r.wg.Add(1)
	go func() {
		fire := r.watch(d)
		r.wg.Done()
		if fire && onTimeout != nil {
			onTimeout()
		}
	}()
}

// watch returns true when the media timed out, false when the relay closed.
func (r *Relay) watch(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return false
		case <-t.C:
		}
		newest, held := r.armedAt.Load(), false
		for _, l := range r.legs {
			newest = max(newest, l.last.Load())
			held = held || l.hold.Load()
		}
		idle := time.Duration(time.Now().UnixNano() - newest)
		switch {
		case held:
			t.Reset(d)
		case idle < d:
			t.Reset(d - idle)
		default:
			r.fired.Store(true)
			return true
		}
	}
}

// TimedOut reports whether the media timeout fired.
func (r *Relay) TimedOut() bool { return r.fired.Load() }

// Close stops relaying, waits for the relay's goroutines and releases both
// legs' ports. Idempotent; later calls return nil at once.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	r.mu.Unlock()
	err := errors.Join(r.legs[0].close(), r.legs[1].close())
	r.wg.Wait()
	return err
}

func (l *Leg) close() error {
	if l.ep != nil {
		return l.ep.Close()
	}
	return l.pair.Close()
}

// read returns the next valid RTP packet from the leg's peer, counting
// what it drops, and false once the leg is closed.
func (l *Leg) read(buf []byte, h *pionrtp.Header) ([]byte, bool) {
	for {
		var n int
		var src netip.AddrPort
		var err error
		if l.ep != nil {
			n, err = l.ep.ReadRTP(buf)
		} else {
			n, src, err = l.pair.RTP.ReadFromUDPAddrPort(buf)
		}
		if err != nil {
			if l.ep != nil || errors.Is(err, net.ErrClosed) {
				return nil, false
			}
			continue // a transient error (an ICMP report): the socket still works
		}
		pkt := buf[:n]
		if !validRTP(pkt, h) {
			l.malformed.Add(1)
			continue
		}
		if l.ep == nil && !l.admit(unmap(src), h) {
			l.dropped.Add(1)
			continue
		}
		return pkt, true
	}
}

// write sends one RTP packet to the leg's peer.
func (l *Leg) write(pkt []byte) {
	var err error
	if l.ep != nil {
		err = l.ep.WriteRTP(pkt)
	} else {
		dst, ok := dest(&l.peerRTP, &l.sdpRTP)
		if !ok {
			l.unsent.Add(1)
			return
		}
		_, err = l.pair.RTP.WriteToUDPAddrPort(pkt, dst)
	}
	if err != nil {
		l.unsent.Add(1)
		return
	}
	l.sent.Add(1)
	l.sentBytes.Add(uint64(len(pkt)))
}

// relayRTP reads the RTP of from's peer and sends each valid packet to
// to's peer, through from's Processor if it has one. This is the hot path:
// no allocation, no log.
func relayRTP(from, to *Leg) {
	buf := make([]byte, maxPacket+1)
	out := make([]byte, maxPacket)
	var h pionrtp.Header
	for {
		pkt, ok := from.read(buf, &h)
		if !ok {
			return
		}
		from.packets.Add(1)
		from.bytes.Add(uint64(len(pkt)))
		now := time.Now()
		from.last.Store(now.UnixNano())
		if from.firstPT.Load() < 0 {
			from.firstPT.CompareAndSwap(-1, int32(h.PayloadType))
		}
		from.lost.Store(from.seq.update(h.SSRC, h.SequenceNumber))
		if p := from.processor(); p != nil {
			n := p.Process(out, pkt, &h)
			if n <= 0 {
				continue
			}
			for ; n > 0; n = p.Next(out) {
				to.write(out[:n])
			}
		} else {
			to.write(pkt)
		}
		PacketSeconds.Observe(time.Since(now).Seconds())
	}
}

// relayRTCP does for RTCP what relayRTP does for RTP: check, latch, relay
// unmodified. RTCP does not keep the call alive for the media timeout.
func relayRTCP(from, to *Leg) {
	buf := make([]byte, maxPacket+1)
	for {
		n, src, err := from.pair.RTCP.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkt := buf[:n]
		if !validRTCP(pkt) {
			from.malformed.Add(1)
			continue
		}
		if !from.admitRTCP(unmap(src)) {
			from.dropped.Add(1)
			continue
		}
		from.rtcpIn.Add(1)
		if to.pair == nil {
			continue // the endpoint makes its own reports
		}
		dst, ok := dest(&to.peerRTCP, &to.sdpRTCP)
		if !ok {
			continue
		}
		if _, err := to.pair.RTCP.WriteToUDPAddrPort(pkt, dst); err == nil {
			to.rtcpOut.Add(1)
		}
	}
}
