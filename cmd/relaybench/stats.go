package main

import (
	"sync/atomic"
	"time"
)

// histogram counts one-way delays by the microsecond, from 0 to 1 s; the
// last bucket (histogramMax) holds 1 s and everything slower. It is safe for concurrent use and
// does not allocate once made (it is 4 MB: one per direction of a run).
type histogram struct {
	us [histogramMax + 1]atomic.Uint32
	n  atomic.Int64
}

// histogramMax is the last bucket of a histogram, in microseconds.
const histogramMax = 1_000_000

func newHistogram() *histogram { return &histogram{} }

func (h *histogram) add(d time.Duration) {
	h.us[min(max(d.Microseconds(), 0), int64(len(h.us)-1))].Add(1)
	h.n.Add(1)
}

// count is the number of samples.
func (h *histogram) count() int64 { return h.n.Load() }

// quantile is the delay in microseconds that a fraction q (0-1) of the
// samples of all hs are at or below: the smallest bucket whose cumulative
// count reaches ceil(q*total). It is 0 without samples.
func quantile(q float64, hs ...*histogram) int {
	var total int64
	for _, h := range hs {
		total += h.count()
	}
	if total == 0 {
		return 0
	}
	rank := int64(q * float64(total))
	if float64(rank) < q*float64(total) {
		rank++
	}
	rank = max(rank, 1)
	var seen int64
	for i := range hs[0].us {
		for _, h := range hs {
			seen += int64(h.us[i].Load())
		}
		if seen >= rank {
			return i
		}
	}
	return len(hs[0].us) - 1
}

// lossPercent is the share of sent packets that never arrived, in percent.
// Duplicates can make received exceed sent; that counts as no loss.
func lossPercent(sent, received int64) float64 {
	if sent <= 0 || received >= sent {
		return 0
	}
	return 100 * float64(sent-received) / float64(sent)
}

// cpuPercentPerCall is the CPU a process used over wall time, in percent
// of one core, divided among calls.
func cpuPercentPerCall(cpu, wall time.Duration, calls int) float64 {
	if wall <= 0 || calls <= 0 {
		return 0
	}
	return 100 * cpu.Seconds() / wall.Seconds() / float64(calls)
}

// frameIndex is the index of a received packet's frame from its RTP
// timestamp: frames are tick apart from the timestamp ts0 of frame 0, the
// difference taken modulo 2^32 as RTP timestamps wrap. ok is false when ts
// is more than a quarter tick off a frame boundary or before frame 0.
func frameIndex(ts, ts0, tick uint32) (n int, ok bool) {
	d := ts - ts0 // wraps
	if tick == 0 || d > 1<<31 {
		return 0, false
	}
	n, r := int(d/tick), d%tick
	if r > tick/2 {
		n++
		r = tick - r
	}
	return n, r <= tick/4
}
