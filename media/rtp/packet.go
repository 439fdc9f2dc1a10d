package rtp

import (
	"encoding/binary"

	pionrtp "github.com/pion/rtp"
)

// maxPacket is the largest datagram relayed: an Ethernet MTU. The readers'
// buffers are one byte longer, so a bigger datagram shows as too long
// instead of being relayed cut short.
const maxPacket = 1500

// validRTP reports whether pkt is an RTP packet to relay and reads its
// header into h, which the caller reuses across packets.
//
// The fixed checks come first, by hand, so garbage is turned away without
// allocating: version 2 and the header with its CSRCs and extension within
// the packet (RFC 3550 section 5.1, 5.3.1), padding that fits (section 5.1),
// and no payload type in 64-95, which RTCP multiplexed on the RTP port
// would carry (RFC 5761 section 4). pion/rtp then parses the header and
// checks the header extension elements (RFC 8285); only a malformed
// extension element, past all the fixed checks, costs it an allocation.
func validRTP(pkt []byte, h *pionrtp.Header) bool {
	n := len(pkt)
	if n < 12 || n > maxPacket || pkt[0]>>6 != 2 {
		return false
	}
	if pt := pkt[1] & 0x7f; pt >= 64 && pt <= 95 {
		return false
	}
	hdr := 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 { // X: a header extension follows the CSRCs
		if n < hdr+4 {
			return false
		}
		hdr += 4 + 4*int(binary.BigEndian.Uint16(pkt[hdr+2:]))
	}
	if n < hdr {
		return false
	}
	if pkt[0]&0x20 != 0 { // P: the last octet counts the padding, itself included
		if pad := int(pkt[n-1]); pad == 0 || hdr+pad > n {
			return false
		}
	}
	hl, err := h.Unmarshal(pkt)
	return err == nil && hl <= n
}

// validRTCP reports whether pkt starts like an RTCP compound packet
// (RFC 3550 section 6.4.1 and appendix A.2): version 2, a packet type in
// 192-223 (SR, RR, SDES, BYE, APP, the feedback types of RFC 4585 and
// XR), and a first packet whose length fits the datagram.
func validRTCP(pkt []byte) bool {
	n := len(pkt)
	if n < 8 || n > maxPacket || pkt[0]>>6 != 2 || pkt[1] < 192 || pkt[1] > 223 {
		return false
	}
	return (int(binary.BigEndian.Uint16(pkt[2:]))+1)*4 <= n
}

// RFC 3550 appendix A.1 limits for a sequence number jump.
const (
	maxDropout  = 3000 // ahead by more than this is a jump, not loss
	maxMisorder = 100  // behind by up to this is reordering
)

// seqTracker estimates loss as RFC 3550 appendix A.3 does: the packets
// expected from the extended highest sequence number, less the packets
// received. It follows appendix A.1: reordered packets are tolerated, the
// 16-bit number wraps into a cycle count, and a jump (more than maxDropout
// ahead or maxMisorder behind) is taken as a restart of the sender only
// once a second packet follows it in sequence; a lone stray packet is not
// counted. A new SSRC (the carrier's announcement replaced by the called
// phone) also restarts the count. The loss of the streams before a restart
// is kept.
//
// It is owned by one reader goroutine and is not safe for concurrent use.
type seqTracker struct {
	started  bool
	ssrc     uint32
	base     uint32 // first sequence number of this stream
	maxSeq   uint16
	cycles   uint32 // count of wraps, shifted: a multiple of 1<<16
	badSeq   uint32 // the number that would confirm a jump; > 0xffff for none
	received int64  // of this stream, exact duplicates of the newest excluded
	banked   int64  // loss of the streams before the last restart
}

const noBadSeq = 1 << 16

func (s *seqTracker) restart(ssrc uint32, seq uint16) {
	if s.started {
		s.banked += max(s.streamLost(), 0)
	}
	*s = seqTracker{started: true, ssrc: ssrc, base: uint32(seq), maxSeq: seq, badSeq: noBadSeq, banked: s.banked}
}

func (s *seqTracker) streamLost() int64 {
	expected := int64(s.cycles) + int64(s.maxSeq) - int64(s.base) + 1
	return expected - s.received
}

// update takes one packet's SSRC and sequence number and returns the
// packets lost so far, never negative.
func (s *seqTracker) update(ssrc uint32, seq uint16) int64 {
	if !s.started || ssrc != s.ssrc {
		s.restart(ssrc, seq)
	} else {
		switch delta := seq - s.maxSeq; {
		case delta == 0:
			return s.lost() // a duplicate of the newest packet
		case delta < maxDropout:
			if seq < s.maxSeq {
				s.cycles += 1 << 16 // wrapped
			}
			s.maxSeq = seq
		case delta <= 1<<16-maxMisorder:
			// A jump: a restart only if the next packet follows this one.
			if uint32(seq) != s.badSeq {
				s.badSeq = uint32(seq+1) & 0xffff
				return s.lost()
			}
			s.restart(ssrc, seq)
		default:
			// Late: reordered or an old duplicate; counted as received.
		}
	}
	s.received++
	return s.lost()
}

func (s *seqTracker) lost() int64 { return s.banked + max(s.streamLost(), 0) }
