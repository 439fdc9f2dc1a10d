package main

import (
	"math"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	h := newHistogram()
	// 1000 samples: 1..1000 µs.
	for us := 1; us <= 1000; us++ {
		h.add(time.Duration(us) * time.Microsecond)
	}
	for _, tt := range []struct {
		q    float64
		want int
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0.0001, 1}, {0, 1}} {
		if got := quantile(tt.q, h); got != tt.want {
			t.Errorf("quantile(%v) of 1..1000 µs = %d, want %d", tt.q, got, tt.want)
		}
	}

	// Two directions merged; one slow outlier in 1000 shows at p999, not p99.
	a, b := newHistogram(), newHistogram()
	for range 500 {
		a.add(100 * time.Microsecond)
	}
	for range 499 {
		b.add(200 * time.Microsecond)
	}
	b.add(40 * time.Millisecond)
	for _, tt := range []struct {
		q    float64
		want int
	}{{0.5, 100}, {0.501, 200}, {0.99, 200}, {0.999, 200}, {0.9995, 40000}} {
		if got := quantile(tt.q, a, b); got != tt.want {
			t.Errorf("quantile(%v) of both = %d, want %d", tt.q, got, tt.want)
		}
	}

	// Negative delays count as 0; beyond the range, in the last bucket.
	c := newHistogram()
	c.add(-time.Millisecond)
	c.add(5 * time.Second)
	if got := quantile(0.5, c); got != 0 {
		t.Errorf("quantile(0.5) with a negative delay = %d, want 0", got)
	}
	if got, want := quantile(1, c), len(c.us)-1; got != want {
		t.Errorf("quantile(1) with 5 s = %d, want the last bucket %d", got, want)
	}
	if got := quantile(0.5, newHistogram()); got != 0 {
		t.Errorf("quantile of nothing = %d, want 0", got)
	}
}

func TestLossAndCPU(t *testing.T) {
	for _, tt := range []struct {
		sent, received int64
		want           float64
	}{{1000, 1000, 0}, {1000, 990, 1}, {1000, 0, 100}, {0, 0, 0}, {1000, 1002, 0}, {3, 2, 100.0 / 3}} {
		if got := lossPercent(tt.sent, tt.received); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("lossPercent(%d, %d) = %v, want %v", tt.sent, tt.received, got, tt.want)
		}
	}
	for _, tt := range []struct {
		cpu, wall time.Duration
		calls     int
		want      float64
	}{
		{2 * time.Second, 10 * time.Second, 100, 0.2}, // 20 % of a core over 100 calls
		{15 * time.Second, 10 * time.Second, 50, 3},   // more than one core
		{time.Second, 0, 10, 0},
		{time.Second, time.Second, 0, 0},
	} {
		if got := cpuPercentPerCall(tt.cpu, tt.wall, tt.calls); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("cpuPercentPerCall(%v, %v, %d) = %v, want %v", tt.cpu, tt.wall, tt.calls, got, tt.want)
		}
	}
}

func TestFrameIndex(t *testing.T) {
	for _, tt := range []struct {
		name          string
		ts, ts0, tick uint32
		want          int
		ok            bool
	}{
		{"frame 0", 5000, 5000, 160, 0, true},
		{"frame 3", 5000 + 3*160, 5000, 160, 3, true},
		{"opus clock", 7 + 10*960, 7, 960, 10, true},
		{"across the wrap", 100, math.MaxUint32 - 59, 160, 1, true},
		{"a little late on the grid", 5000 + 2*160 + 30, 5000, 160, 2, true},
		{"a little early on the grid", 5000 + 2*160 - 30, 5000, 160, 2, true},
		{"half a frame off", 5000 + 2*160 + 80, 5000, 160, 0, false},
		{"before frame 0", 4840, 5000, 160, 0, false},
		{"no tick", 5000, 5000, 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := frameIndex(tt.ts, tt.ts0, tt.tick)
			if ok != tt.ok || (ok && n != tt.want) {
				t.Errorf("frameIndex(%d, %d, %d) = %d, %v; want %d, %v", tt.ts, tt.ts0, tt.tick, n, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestStamp(t *testing.T) {
	s := &stream{pt: ptPCMU, tick: tickPCMU, frames: [][]byte{make([]byte, 160)}}
	buf := make([]byte, 2048)
	pkt := s.packet(buf, 0xC0000001, 70000, true, 123456789012)
	if len(pkt) != 12+160 {
		t.Fatalf("packet is %d bytes, want 172", len(pkt))
	}
	if frame, sent := unstamp(pkt[12:]); frame != 70000 || sent != 123456789012 {
		t.Errorf("unstamp = %d, %d; want 70000, 123456789012", frame, sent)
	}
	if seq, ts := uint16(pkt[2])<<8|uint16(pkt[3]), uint32(pkt[4])<<24|uint32(pkt[5])<<16|uint32(pkt[6])<<8|uint32(pkt[7]); seq != 70000%65536 || ts != 70000*160 {
		t.Errorf("sequence %d, timestamp %d; want %d, %d", seq, ts, 70000%65536, 70000*160)
	}
}
