package codec

// Limits of RFC 3550 appendix A.1 for telling loss from reordering and
// from a sender that restarted its sequence numbers.
const (
	maxDropout  = 3000
	maxMisorder = 100
)

// sequence follows a stream's RTP sequence numbers.
type sequence struct {
	started bool
	last    uint16 // highest sequence number accepted
}

// check classifies seq against the packets accepted so far: ErrLate for a
// duplicate or a packet older than the last one, else the number of
// packets lost just before it (0 after a jump too large to be loss, which
// RFC 3550 appendix A.1 treats as the sender restarting).
func (s *sequence) check(seq uint16) (lost int, err error) {
	if !s.started {
		return 0, nil
	}
	d := seq - s.last
	switch {
	case d == 0 || d > 1<<16-maxMisorder:
		return 0, ErrLate
	case d < maxDropout:
		return int(d) - 1, nil
	}
	return 0, nil
}

// accept records seq as transcoded.
func (s *sequence) accept(seq uint16) {
	s.started, s.last = true, seq
}
