package codec

import (
	"errors"
	"fmt"
	"testing"
)

// popped is one packet out of a Packetizer: its timestamp, whether it
// starts a talkspurt, and its samples (the pushes below number theirs).
type popped struct {
	ts      uint32
	start   bool
	samples string
}

func (p popped) String() string { return fmt.Sprintf("{%d %v %s}", p.ts, p.start, p.samples) }

// push is n samples at ts, numbered from first (0 is silence).
type push struct {
	ts       uint32
	n, first int
}

func TestPacketizer(t *testing.T) {
	// Frames of 4 samples; a sample's value is its number, silence 0.
	tests := []struct {
		name   string
		pushes []push
		want   [][]popped // per push, what pops after it
	}{
		{"whole packets", []push{{100, 4, 1}, {104, 4, 5}},
			[][]popped{{{100, true, "1 2 3 4"}}, {{104, false, "5 6 7 8"}}}},
		{"longer pushes", []push{{0, 6, 1}, {6, 6, 7}},
			[][]popped{{{0, true, "1 2 3 4"}}, {{4, false, "5 6 7 8"}, {8, false, "9 10 11 12"}}}},
		{"shorter pushes keep the start", []push{{0, 2, 1}, {2, 2, 3}, {4, 2, 5}, {6, 2, 7}},
			[][]popped{nil, {{0, true, "1 2 3 4"}}, nil, {{4, false, "5 6 7 8"}}}},
		{"short gap filled with silence", []push{{0, 6, 1}, {7, 5, 7}},
			[][]popped{{{0, true, "1 2 3 4"}}, {{4, false, "5 6 0 7"}, {8, false, "8 9 10 11"}}}},
		{"long gap completes the packet", []push{{0, 6, 1}, {50, 4, 7}},
			[][]popped{{{0, true, "1 2 3 4"}}, {{4, false, "5 6 0 0"}, {50, true, "7 8 9 10"}}}},
		{"time going back", []push{{0, 6, 1}, {2, 4, 7}},
			[][]popped{{{0, true, "1 2 3 4"}}, {{4, false, "5 6 0 0"}, {2, true, "7 8 9 10"}}}},
		{"gap between packets", []push{{0, 4, 1}, {50, 4, 5}},
			[][]popped{{{0, true, "1 2 3 4"}}, {{50, true, "5 6 7 8"}}}},
		{"audio after a gap waits for more", []push{{0, 6, 1}, {50, 2, 7}, {52, 2, 9}},
			[][]popped{{{0, true, "1 2 3 4"}}, {{4, false, "5 6 0 0"}}, {{50, true, "7 8 9 10"}}}},
		{"timestamps wrap", []push{{1<<32 - 2, 4, 1}, {2, 4, 5}},
			[][]popped{{{1<<32 - 2, true, "1 2 3 4"}}, {{2, false, "5 6 7 8"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPacketizer[int16](4, 8, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, ps := range tt.pushes {
				a := make([]int16, ps.n)
				for k := range a {
					a[k] = int16(ps.first + k)
				}
				if err := p.Push(a, ps.ts); err != nil {
					t.Fatalf("Push %d: %v", i, err)
				}
				var got []popped
				for {
					pkt, ts, start, ok := p.Pop()
					if !ok {
						break
					}
					got = append(got, popped{ts, start, fmt.Sprint(pkt)[1 : len(fmt.Sprint(pkt))-1]})
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want[i]) {
					t.Errorf("after push %d (%+v): popped %v, want %v", i, ps, got, tt.want[i])
				}
			}
		})
	}
}

func TestPacketizerLimits(t *testing.T) {
	if _, err := NewPacketizer[byte](0, 10, 0xff); !errors.Is(err, ErrFrameSize) {
		t.Errorf("NewPacketizer(frame 0) = %v, want ErrFrameSize", err)
	}
	p, err := NewPacketizer[byte](160, 480, 0xff)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Push(make([]byte, 481), 0); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("Push(481 of at most 480) = %v, want ErrShortBuffer", err)
	}
	// Packets left unpopped are dropped at the next push; what waited
	// keeps its time.
	p.Push(make([]byte, 400), 0)
	p.Push(make([]byte, 100), 400)
	if _, ts, _, ok := p.Pop(); !ok || ts != 320 {
		t.Errorf("Pop() after unpopped packets = %d, %v; want 320", ts, ok)
	}
	var ts uint32 = 500
	in := make([]byte, 240)
	if allocs := testing.AllocsPerRun(100, func() {
		p.Push(in, ts)
		for _, _, _, ok := p.Pop(); ok; _, _, _, ok = p.Pop() {
		}
		ts += 240
	}); allocs != 0 {
		t.Errorf("Push and Pop: %.1f allocs, want 0", allocs)
	}
}
