package rtp

import (
	"net/netip"
	"time"

	pionrtp "github.com/pion/rtp"
)

// Strict is how a plain RTP leg chooses the source it takes media from.
//
// Off, the leg latches on the source of the first valid packet, whoever
// sent it (symmetric RTP, RFC 4961, as SBCs do for NAT): whoever sprays
// the switch's media ports first takes the call's audio (the class of
// CVE-2017-14099). On (the default), a leg takes media:
//   - from the address the peer's SDP gave (SetRemote), at once: the leg
//     latches on it, and it takes the leg back from any source learned
//     before;
//   - from the latched source, once latched;
//   - from a new source (a peer behind NAT, whose packets do not come from
//     the address its SDP names) only once it has sent Probation packets
//     in a row with one SSRC and sequence numbers rising by one, and only
//     when the call is answered (Arm) and the expected source, latched or
//     signalled, has sent nothing for Quiet: not since the answer, not
//     since a new SDP address, not since its last packet.
//
// Everything else is counted as dropped. A peer that sends from its SDP
// address keeps its leg however early a spray starts; an attacker is never
// learned while the real source keeps sending. The cost falls on peers
// behind NAT: their media flows Quiet after the answer (and Quiet after
// each silence that outlasts it), not from their first packet.
//
// RTCP follows RTP: a strict leg takes it from the SDP's RTCP address or
// from the port above the latched RTP source (RTCP on RTP+1, RFC 3550
// section 11; rtcp-mux is not taken on a plain leg).
type Strict struct {
	Enabled bool `yaml:"enabled"`
	// Probation is how many consecutive in-sequence packets of one SSRC a
	// new source sends before it may be learned.
	Probation int `yaml:"probation"`
	// Quiet is how long the expected source must have been silent before
	// a new source may be learned. Longer than the time a peer takes to
	// start sending after the answer, shorter than the audio a peer behind
	// NAT may lose.
	Quiet time.Duration `yaml:"quiet"`
}

// DefaultStrict is strict RTP as the switch runs it unless configured
// otherwise: on, 4 packets of probation (as Asterisk's strictrtp), and 1.5 s
// of quiet, above the second a slow phone takes to send after the answer.
func DefaultStrict() Strict {
	return Strict{Enabled: true, Probation: 4, Quiet: 1500 * time.Millisecond}
}

// withDefaults fills the zero fields of an enabled s from DefaultStrict.
func (s Strict) withDefaults() Strict {
	if !s.Enabled {
		return s
	}
	d := DefaultStrict()
	if s.Probation <= 0 {
		s.Probation = d.Probation
	}
	if s.Quiet <= 0 {
		s.Quiet = d.Quiet
	}
	return s
}

// probe follows one new source on probation: how many packets in a row it
// has sent with one SSRC and sequence numbers rising by one. It is owned
// by the leg's RTP reader goroutine.
type probe struct {
	src  netip.AddrPort
	ssrc uint32
	next uint16 // the sequence number that continues the run
	n    int    // the run's length
}

// update takes one packet from src and returns the length of its run.
// Another source, another SSRC or a sequence number out of turn starts a
// new run.
func (p *probe) update(src netip.AddrPort, ssrc uint32, seq uint16) int {
	if p.n == 0 || src != p.src || ssrc != p.ssrc || seq != p.next {
		p.src, p.ssrc, p.n = src, ssrc, 0
	}
	p.n++
	p.next = seq + 1
	return p.n
}

// admit reports whether the RTP packet from src, whose header is h, is the
// peer's, latching the leg as Strict says. It is called only from the
// leg's RTP reader. Latching on a new source allocates (once per source);
// the checks do not.
func (l *Leg) admit(src netip.AddrPort, h *pionrtp.Header) bool {
	if !l.strict.Enabled {
		return accept(&l.peerRTP, src)
	}
	if p := l.peerRTP.Load(); p != nil && *p == src {
		return true
	}
	if p := l.sdpRTP.Load(); p != nil && *p == src {
		l.peerRTP.Store(p) // the values behind these pointers are never changed
		return true
	}
	if l.probe.update(src, h.SSRC, h.SequenceNumber) < l.strict.Probation || !l.quiet() {
		return false
	}
	learned := src
	l.peerRTP.Store(&learned)
	return true
}

// quiet reports whether the call is answered and the leg's expected source
// has been silent for the Quiet of its Strict.
func (l *Leg) quiet() bool {
	since := l.waiting.Load()
	if since == 0 {
		return false
	}
	return time.Now().UnixNano()-max(since, l.last.Load()) >= int64(l.strict.Quiet)
}

// admitRTCP reports whether the RTCP packet from src is the peer's,
// latching the leg's RTCP on it.
func (l *Leg) admitRTCP(src netip.AddrPort) bool {
	if !l.strict.Enabled {
		return accept(&l.peerRTCP, src)
	}
	sdp, rtp := l.sdpRTCP.Load(), l.peerRTP.Load()
	if (sdp == nil || *sdp != src) && (rtp == nil || src != netip.AddrPortFrom(rtp.Addr(), rtp.Port()+1)) {
		return false
	}
	if p := l.peerRTCP.Load(); p == nil || *p != src {
		latched := src
		l.peerRTCP.Store(&latched)
	}
	return true
}
