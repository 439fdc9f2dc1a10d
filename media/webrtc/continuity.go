package webrtc

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

// stragglerWindow is how long after a change of source packets of the
// former one are taken for stragglers and dropped; later, the former
// source coming back is a change like any other.
const stragglerWindow = 500 * time.Millisecond

// maxSeqJump is the largest step between consecutive sequence numbers of
// one source that is taken as loss or reordering; a larger one is a new
// stream (a media server changed behind the carrier's SSRC).
const maxSeqJump = 100

// outStream keeps the sequence numbers and timestamps the browser gets
// continuous when what the switch sends changes source: the carrier's
// early media from one server and its answer from another, a transcoder
// swapped for a new one, a re-INVITE. The SSRC is the peer's own already;
// a sequence number that jumped with the source would also break SRTP:
// the sender's rollover counter (RFC 3711 section 3.3.1) counts a jump
// back of more than 2^15 as a wrap, which the browser guesses otherwise,
// and then no packet authenticates and the call goes silent.
//
// Each new source is mapped to carry on from the last packet sent: the
// next sequence number, and a timestamp advanced by the time that passed,
// with the marker bit set as at the start of a talkspurt. Packets the
// former source still sends just after the switch are dropped.
type outStream struct {
	mu       sync.Mutex
	started  bool
	src      uint32    // the SSRC of the source being sent
	former   uint32    // the source before it
	switched time.Time // when src took over from former
	srcSeq   uint16    // the source's highest sequence number
	seqDelta uint16    // added to the source's sequence numbers
	tsDelta  uint32    // added to its timestamps
	outSeq   uint16    // the highest sequence number sent
	outTS    uint32    // and its timestamp
	at       time.Time
}

// rewrite maps h onto the outgoing stream, whose clock runs at clock Hz,
// at time now. It returns false for a packet to drop.
func (s *outStream) rewrite(h *rtp.Header, clock uint32, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.started:
		s.started, s.src, s.srcSeq = true, h.SSRC, h.SequenceNumber
		s.outSeq, s.outTS, s.at = h.SequenceNumber, h.Timestamp, now
		return true
	case h.SSRC == s.former && h.SSRC != s.src && now.Sub(s.switched) < stragglerWindow:
		return false
	case h.SSRC != s.src:
		s.former, s.switched = s.src, now
		s.restart(h, clock, now)
	default:
		jump := int16(h.SequenceNumber - s.srcSeq)
		if jump > maxSeqJump || jump < -maxSeqJump {
			s.restart(h, clock, now)
		} else if jump > 0 {
			s.srcSeq = h.SequenceNumber
		}
	}
	h.SequenceNumber += s.seqDelta
	h.Timestamp += s.tsDelta
	if int16(h.SequenceNumber-s.outSeq) > 0 {
		s.outSeq, s.outTS, s.at = h.SequenceNumber, h.Timestamp, now
	}
	return true
}

// restart makes h, the first packet of a new source, follow the last one
// sent. Called with s.mu held.
func (s *outStream) restart(h *rtp.Header, clock uint32, now time.Time) {
	ticks := uint32(max(now.Sub(s.at), 0) * time.Duration(clock) / time.Second)
	s.src, s.srcSeq = h.SSRC, h.SequenceNumber
	s.seqDelta = s.outSeq + 1 - h.SequenceNumber
	s.tsDelta = s.outTS + max(ticks, 1) - h.Timestamp
	h.Marker = true
}
