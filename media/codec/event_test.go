package codec

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		in   []byte
		want Event
	}{
		{[]byte{0x05, 0x0a, 0x00, 0xa0}, Event{Code: 5, Volume: 10, Duration: 160}},
		{[]byte{0x0b, 0x8a, 0x03, 0x20}, Event{Code: 11, End: true, Volume: 10, Duration: 800}},
		{[]byte{0x0a, 0x4a, 0x00, 0x00}, Event{Code: 10, Volume: 10}}, // R set: ignored
		{[]byte{0xff, 0xff, 0xff, 0xff}, Event{Code: 255, End: true, Volume: 63, Duration: 0xffff}},
	}
	for _, tt := range tests {
		got, err := ParseEvent(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseEvent(% x) = %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
		var b [EventSize]byte
		if n, err := got.MarshalTo(b[:]); n != EventSize || err != nil {
			t.Fatalf("MarshalTo = %d, %v", n, err)
		}
		want := bytes.Clone(tt.in)
		want[1] &^= 0x40 // R goes out as zero
		if !bytes.Equal(b[:], want) {
			t.Errorf("%+v.MarshalTo = % x, want % x", got, b, want)
		}
	}
	for _, in := range [][]byte{nil, {}, {1}, {1, 2, 3}, {1, 2, 3, 4, 5}, make([]byte, 8)} {
		if _, err := ParseEvent(in); !errors.Is(err, ErrEvent) {
			t.Errorf("ParseEvent(% x) = %v, want ErrEvent", in, err)
		}
	}
	if _, err := (Event{Volume: 64}).MarshalTo(make([]byte, 4)); !errors.Is(err, ErrEvent) {
		t.Errorf("Event{Volume: 64}.MarshalTo = %v, want ErrEvent", err)
	}
	if _, err := (Event{}).MarshalTo(make([]byte, 3)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("Event{}.MarshalTo(3 bytes) = %v, want ErrShortBuffer", err)
	}
}

// TestEventTranslate uses a call where Opus timestamp 960000 and G.711
// timestamp 160000 are the same instant; digits start 100 ms (4800 and
// 800 ticks) after it.
func TestEventTranslate(t *testing.T) {
	ev := func(code byte, end bool, vol byte, dur uint16) []byte {
		b := make([]byte, 4)
		Event{Code: code, End: end, Volume: vol, Duration: dur}.MarshalTo(b)
		return b
	}
	tests := []struct {
		name     string
		fromRate int
		ts       uint32
		in       []byte
		wantTS   uint32
		want     []byte
	}{
		{"first packet, 20 ms", 48000, 964800, ev(5, false, 10, 960), 160800, ev(5, false, 10, 160)},
		{"later packet, 100 ms", 48000, 964800, ev(5, false, 10, 4800), 160800, ev(5, false, 10, 800)},
		{"end, 160 ms", 48000, 964800, ev(5, true, 10, 7680), 160800, ev(5, true, 10, 1280)},
		{"odd duration rounds down", 48000, 964800, ev(11, false, 7, 1001), 160800, ev(11, false, 7, 166)},
		{"tiny duration stays non-zero", 48000, 964800, ev(1, false, 10, 5), 160800, ev(1, false, 10, 1)},
		{"zero duration (a state) stays zero", 48000, 964800, ev(1, false, 10, 0), 160800, ev(1, false, 10, 0)},
		{"max duration", 48000, 964800, ev(1, true, 10, 0xffff), 160800, ev(1, true, 10, 10922)},
		{"event before the anchor", 48000, 955200, ev(0, false, 0, 960), 159200, ev(0, false, 0, 160)},
		{"up, first packet", 8000, 160800, ev(5, false, 10, 160), 964800, ev(5, false, 10, 960)},
		{"up, end", 8000, 160800, ev(12, true, 20, 1280), 964800, ev(12, true, 20, 7680)},
		{"up, just fits", 8000, 160800, ev(5, false, 10, 10922), 964800, ev(5, false, 10, 65532)},
		// 10923*6 = 65538: the second segment starts 65535 ticks later, 3 ticks long.
		{"up, second segment", 8000, 160800, ev(5, false, 10, 10923), 964800 + 65535, ev(5, false, 10, 3)},
		// 65535*6 = 6 full segments: the sixth, 5*65535 later, is full.
		{"up, max duration", 8000, 160800, ev(5, true, 10, 0xffff), 964800 + 5*65535, ev(5, true, 10, 0xffff)},
		{"up, two events", 8000, 160800, append(ev(1, true, 10, 800), ev(2, false, 10, 80)...),
			964800, append(ev(1, true, 10, 4800), ev(2, false, 10, 480)...)},
		{"up, two events, long one saturates", 8000, 160800, append(ev(1, true, 10, 800), ev(2, false, 10, 20000)...),
			964800, append(ev(1, true, 10, 4800), ev(2, false, 10, 0xffff)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl Timeline
			if tt.fromRate == 48000 {
				tl = mustTimeline(t, 48000, 8000, 960000, 160000)
			} else {
				tl = mustTimeline(t, 8000, 48000, 160000, 960000)
			}
			tr, err := NewEventTranslator(tl)
			if err != nil {
				t.Fatal(err)
			}
			in := bytes.Clone(tt.in)
			// Into a buffer, three times (an end packet and its two
			// retransmissions), then in place: all alike.
			for range 3 {
				dst := make([]byte, len(in))
				n, ts, err := tr.Translate(dst, tt.ts, in)
				if err != nil || ts != tt.wantTS || !bytes.Equal(dst[:n], tt.want) {
					t.Errorf("Translate(ts %d, % x) = ts %d, % x, %v; want ts %d, % x", tt.ts, in, ts, dst[:n], err, tt.wantTS, tt.want)
				}
			}
			n, ts, err := tr.Translate(in, tt.ts, in)
			if err != nil || ts != tt.wantTS || !bytes.Equal(in[:n], tt.want) {
				t.Errorf("Translate in place (ts %d, % x) = ts %d, % x, %v; want ts %d, % x", tt.ts, tt.in, ts, in[:n], err, tt.wantTS, tt.want)
			}
		})
	}
}

func TestEventTranslateErrors(t *testing.T) {
	tr, err := NewEventTranslator(mustTimeline(t, 48000, 8000, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{nil, {}, {1}, {1, 2, 3}, {1, 2, 3, 4, 5}, make([]byte, 7)} {
		if _, _, err := tr.Translate(make([]byte, 16), 0, in); !errors.Is(err, ErrEvent) {
			t.Errorf("Translate(% x) = %v, want ErrEvent", in, err)
		}
	}
	if _, _, err := tr.Translate(make([]byte, 3), 0, make([]byte, 4)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("Translate(3-byte dst) = %v, want ErrShortBuffer", err)
	}
	for _, r := range [][2]int{{8000, 8000}, {48000, 16000}, {16000, 48000}} {
		if _, err := NewEventTranslator(mustTimeline(t, r[0], r[1], 0, 0)); !errors.Is(err, ErrClockRate) {
			t.Errorf("NewEventTranslator(%d->%d) = %v, want ErrClockRate", r[0], r[1], err)
		}
	}
}
