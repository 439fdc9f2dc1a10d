package codec

import "errors"

var (
	// ErrShortBuffer: the destination cannot hold the result. Nothing was
	// written and no state changed; retry with a larger buffer.
	ErrShortBuffer = errors.New("destination buffer too short")
	// ErrLate: a packet older than, or the same as, one already
	// transcoded (RFC 3550 appendix A.1). Drop it.
	ErrLate = errors.New("late or duplicate packet")
	// ErrOpusPacket: an Opus payload breaks the framing rules of RFC 6716
	// section 3 or libopus refused it.
	ErrOpusPacket = errors.New("malformed opus packet")
	// ErrFrameSize: a G.711 payload whose duration is not one Opus can
	// encode as one packet (2.5, 5, 10, 20, 40, 60, 80, 100 or 120 ms).
	ErrFrameSize = errors.New("payload duration is not an opus frame size")
	// ErrEvent: a telephone-event payload that is not a whole number of
	// 4-byte event reports (RFC 4733 section 2.3).
	ErrEvent = errors.New("malformed telephone-event payload")
	// ErrClockRate: a timeline between clock rates this package cannot
	// map, or a transcoder given a timeline of the wrong rates.
	ErrClockRate = errors.New("unsupported rtp clock rates")
	// ErrConfig: an Opus encoder setting out of range.
	ErrConfig = errors.New("invalid opus configuration")
	// ErrLaw: a Law other than PCMU and PCMA.
	ErrLaw = errors.New("unknown g.711 law")
)
