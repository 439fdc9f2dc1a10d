package codec

import (
	"encoding/binary"
	"fmt"
)

// maxEventDuration is the longest duration one event report carries
// (RFC 4733 section 2.5.1.3).
const maxEventDuration = 0xffff

// EventTranslator carries telephone-events (RFC 4733) from one leg's
// clock to the other's: telephone-event/48000 on the Opus leg and
// telephone-event/8000 on the G.711 leg. Each packet's timestamp, the
// start of its event, maps through the same [Timeline] as the audio of
// that direction, so the event lands where it did in the audio; each
// report's duration scales by the ratio of the clocks (/6 or x6). It keeps
// no per-event state: the packets of one event, its end packets and their
// retransmissions (section 2.5.1.4) all translate alike.
//
// A duration that no longer fits in 16 bits once scaled up (an event
// longer than 1.365 s going to 48000) is split as section 2.5.1.3 says: a
// new segment of the same event starts 0xFFFF ticks after the previous
// one, so the packet's timestamp moves forward by 0xFFFF per segment. In
// a packet reporting several events (section 2.5.1.5) such a duration
// saturates at 0xFFFF instead. A non-zero duration scaled down to zero
// becomes 1: zero is reserved for states (section 2.3.5).
//
// Not safe for concurrent use; one per direction, reset with the audio.
type EventTranslator struct {
	tl Timeline
}

// NewEventTranslator makes a translator whose timeline maps the source
// stream's timestamps onto the destination's: 48000 to 8000 or 8000 to
// 48000, the timeline of the audio of the same direction.
func NewEventTranslator(tl Timeline) (*EventTranslator, error) {
	if !tl.rates(48000, 8000) && !tl.rates(8000, 48000) {
		return nil, fmt.Errorf("event translator timeline: %w", ErrClockRate)
	}
	return &EventTranslator{tl: tl}, nil
}

// Reset replaces the timeline, when the audio's is reset.
func (t *EventTranslator) Reset(tl Timeline) { t.tl = tl }

// Translate rewrites the telephone-event payload of a packet with RTP
// timestamp ts into dst, which may be payload itself, and returns the
// bytes written and the packet's timestamp on the destination stream. The
// payload must be one or more 4-byte reports (ErrEvent otherwise); dst
// must hold len(payload) bytes. Only the durations change.
func (t *EventTranslator) Translate(dst []byte, ts uint32, payload []byte) (n int, outTS uint32, err error) {
	if len(payload) == 0 || len(payload)%EventSize != 0 {
		return 0, 0, fmt.Errorf("%w: %d bytes, want a multiple of %d", ErrEvent, len(payload), EventSize)
	}
	if len(dst) < len(payload) {
		return 0, 0, fmt.Errorf("translate %d event bytes into %d: %w", len(payload), len(dst), ErrShortBuffer)
	}
	outTS = t.tl.Map(ts)
	single := len(payload) == EventSize
	for i := 0; i < len(payload); i += EventSize {
		d := int64(binary.BigEndian.Uint16(payload[i+2:]))
		scaled := t.tl.ticks(d)
		switch {
		case d > 0 && scaled == 0:
			scaled = 1
		case scaled > maxEventDuration && single:
			seg := (scaled - 1) / maxEventDuration
			outTS += uint32(seg * maxEventDuration)
			scaled -= seg * maxEventDuration
		case scaled > maxEventDuration:
			scaled = maxEventDuration
		}
		dst[i], dst[i+1] = payload[i], payload[i+1]
		binary.BigEndian.PutUint16(dst[i+2:], uint16(scaled))
	}
	return len(payload), outTS, nil
}
