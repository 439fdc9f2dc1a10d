package codec

import (
	"errors"
	"testing"
)

func TestTimelineMap(t *testing.T) {
	tests := []struct {
		name             string
		fromRate, toRate int
		from, to, in     uint32
		want             uint32
	}{
		{"anchor", 48000, 8000, 1000, 5000, 1000, 5000},
		{"20 ms later", 48000, 8000, 1000, 5000, 1960, 5160},
		{"20 ms earlier", 48000, 8000, 1000, 5000, 40, 4840},
		{"rounds down", 48000, 8000, 1000, 5000, 1005, 5000},
		{"rounds down before the anchor", 48000, 8000, 1000, 5000, 999, 4999},
		{"source wraps", 48000, 8000, 0xffffff00, 10, 0x2c0, 170},
		{"destination wraps", 48000, 8000, 0, 0xfffffff0, 960, 0x90},
		{"up 20 ms", 8000, 48000, 100, 7, 260, 967},
		{"up, destination wraps", 8000, 48000, 100, 0xfffffff0, 260, 0x3b0},
		{"up, source wraps", 8000, 48000, 0xfffffff6, 0, 150, 960},
		{"same rate", 8000, 8000, 10, 20, 30, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := mustTimeline(t, tt.fromRate, tt.toRate, tt.from, tt.to)
			if got := tl.Map(tt.in); got != tt.want {
				t.Errorf("Map(%d) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestTimelineLongCall(t *testing.T) {
	// Days of timestamps, past many wraps of both streams, map as the
	// unwrapped arithmetic says: Map moves its anchor as it goes.
	for _, r := range []struct{ from, to int64 }{{48000, 8000}, {8000, 48000}} {
		const from, to = 0xfff00000, 12345
		tl := mustTimeline(t, int(r.from), int(r.to), from, to)
		for step := int64(0); step < 400; step++ {
			d := step*(1<<28) + step*7 // unwrapped source ticks since the anchor
			var want int64
			if r.to < r.from {
				want = to + d/(r.from/r.to)
			} else {
				want = to + d*(r.to/r.from)
			}
			if got := tl.Map(uint32(from + d)); got != uint32(want) {
				t.Fatalf("%d->%d Hz: Map(anchor+%d) = %d, want %d", r.from, r.to, d, got, uint32(want))
			}
		}
	}
}

func TestNewTimelineErrors(t *testing.T) {
	for _, r := range [][2]int{{0, 8000}, {48000, 0}, {-8000, 8000}, {48000, 44100}, {16000, 48001}} {
		if _, err := NewTimeline(r[0], r[1], 0, 0); !errors.Is(err, ErrClockRate) {
			t.Errorf("NewTimeline(%d, %d) = %v, want ErrClockRate", r[0], r[1], err)
		}
	}
	var zero Timeline
	if got := zero.Map(1234); got != 1234 {
		t.Errorf("Timeline{}.Map(1234) = %d, want 1234", got)
	}
}
