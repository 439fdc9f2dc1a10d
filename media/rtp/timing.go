package rtp

import (
	"math"
	"sync/atomic"
	"time"
)

// The relay's own time per RTP packet: from its read returning to its
// write returning, the processor's work (transcoding) included; not the
// wait for the packet nor the time the goroutine waits to be scheduled.
// Kept for the whole process in buckets whose bounds grow by a factor of
// the square root of two from 1 µs (1, 1.41, 2, 2.83, 4 ... µs, the last
// about 92 ms), so a quantile read off them is within 41 % of the truth.
var packetTimes timing

// timingBuckets is how many bounds there are; one more bucket counts what
// is over the last.
const timingBuckets = 34

type timing struct {
	counts [timingBuckets + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// bucket is the index of the smallest bound that is at least d.
func bucket(d time.Duration) int {
	if d <= time.Microsecond {
		return 0
	}
	return min(int(math.Ceil(2*math.Log2(float64(d)/float64(time.Microsecond)))), timingBuckets)
}

func (t *timing) observe(d time.Duration) {
	t.counts[bucket(d)].Add(1)
	t.sum.Add(int64(d))
}

// PacketTimes is a snapshot of the relay's time per packet.
type PacketTimes struct {
	// Bounds are the buckets' upper bounds; Counts[i] is how many packets
	// took at most Bounds[i] and more than the bound before, and the last
	// Count, one more than Bounds, those over the last bound.
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// ReadPacketTimes returns the relay's time per packet since the process
// started.
func ReadPacketTimes() PacketTimes {
	p := PacketTimes{Bounds: make([]time.Duration, timingBuckets), Counts: make([]uint64, timingBuckets+1)}
	for i := range p.Bounds {
		p.Bounds[i] = time.Duration(float64(time.Microsecond) * pow2half(i))
	}
	for i := range p.Counts {
		p.Counts[i] = packetTimes.counts[i].Load()
		p.Count += p.Counts[i]
	}
	p.Sum = time.Duration(packetTimes.sum.Load())
	return p
}

// pow2half is 2^(i/2).
func pow2half(i int) float64 {
	v := float64(uint64(1) << (i / 2))
	if i%2 == 1 {
		v *= 1.4142135623730951
	}
	return v
}

// Since is what was counted after prev, a snapshot taken earlier.
func (p PacketTimes) Since(prev PacketTimes) PacketTimes {
	d := PacketTimes{Bounds: p.Bounds, Counts: make([]uint64, len(p.Counts)), Count: p.Count - prev.Count, Sum: p.Sum - prev.Sum}
	for i := range p.Counts {
		d.Counts[i] = p.Counts[i] - prev.Counts[i]
	}
	return d
}

// Quantile is the bound of the bucket that holds quantile q of the
// packets (q = 0.99: 99 % took at most about this long); the last bound
// when it is beyond, 0 without packets.
func (p PacketTimes) Quantile(q float64) time.Duration {
	if p.Count == 0 {
		return 0
	}
	want, seen := uint64(q*float64(p.Count)), uint64(0)
	for i, c := range p.Counts[:len(p.Bounds)] {
		seen += c
		if seen > want {
			return p.Bounds[i]
		}
	}
	return p.Bounds[len(p.Bounds)-1]
}
