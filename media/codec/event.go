package codec

import (
	"encoding/binary"
	"fmt"
)

// EventSize is the length of one telephone-event report (RFC 4733
// section 2.3).
const EventSize = 4

// Event is one RFC 4733 telephone-event report:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The event began at the packet's RTP timestamp, which stays the same in
// every packet of the event, retransmitted end packets included (section
// 2.5.1.2, 2.5.1.4); the duration, in ticks of that clock, grows.
type Event struct {
	Code     uint8  // section 2.3.1; DTMF 0-9, * is 10, # is 11, A-D are 12-15 (section 3.2)
	End      bool   // section 2.3.2: the event has ended
	Volume   uint8  // section 2.3.4: power level in -dBm0, 0-63
	Duration uint16 // section 2.3.5: ticks since the event began; 0 only for states
}

// ParseEvent reads one event report; b must be exactly [EventSize] bytes.
// The reserved R bit (section 2.3.3) is ignored.
func ParseEvent(b []byte) (Event, error) {
	if len(b) != EventSize {
		return Event{}, fmt.Errorf("%w: %d bytes, want %d", ErrEvent, len(b), EventSize)
	}
	return Event{
		Code:     b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}, nil
}

// MarshalTo writes e into b, with R zero, and returns [EventSize].
// Volume above 63 is an error.
func (e Event) MarshalTo(b []byte) (int, error) {
	if len(b) < EventSize {
		return 0, fmt.Errorf("marshal event into %d bytes: %w", len(b), ErrShortBuffer)
	}
	if e.Volume > 0x3f {
		return 0, fmt.Errorf("%w: volume %d", ErrEvent, e.Volume)
	}
	b[0] = e.Code
	b[1] = e.Volume
	if e.End {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:4], e.Duration)
	return EventSize, nil
}
