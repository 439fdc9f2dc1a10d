package codec

import "fmt"

// Timeline maps the RTP timestamps of one stream onto those of another
// that carries the same audio at another clock rate: the Opus leg's 48000
// (RFC 7587 section 4.1) and the G.711 leg's 8000 (RFC 3551 section
// 4.5.14). A timestamp is the sampling instant of the payload's first
// sample (RFC 3550 section 5.1), so one pair of timestamps naming the same
// instant, and the two rates, fix the mapping.
//
// Map works across 32-bit wraparound of either stream. It moves its
// anchor forward as the stream advances, so timestamps within about 2^30
// ticks of the last one mapped (over 6 hours at 48 kHz) map exactly, for
// as long as the call lasts. A Timeline is not safe for concurrent use;
// copies are independent and map identically. The zero Timeline maps
// every timestamp to itself.
type Timeline struct {
	from, to uint32 // timestamps of the same instant in each stream
	mul, div int64  // to-ticks per from-tick: mul/div, in lowest terms
}

// NewTimeline maps timestamps of a stream clocked at fromRate onto one
// clocked at toRate, where timestamp from of the first stream and
// timestamp to of the second name the same instant. The faster rate must
// be a whole multiple of the slower one.
func NewTimeline(fromRate, toRate int, from, to uint32) (Timeline, error) {
	if fromRate <= 0 || toRate <= 0 || fromRate > 1<<20 || toRate > 1<<20 ||
		(fromRate%toRate != 0 && toRate%fromRate != 0) {
		return Timeline{}, fmt.Errorf("timeline %d Hz to %d Hz: %w", fromRate, toRate, ErrClockRate)
	}
	mul, div := int64(1), int64(1)
	if toRate > fromRate {
		mul = int64(toRate / fromRate)
	} else {
		div = int64(fromRate / toRate)
	}
	return Timeline{from: from, to: to, mul: mul, div: div}, nil
}

// rates reports whether t maps fromRate onto toRate.
func (t *Timeline) rates(fromRate, toRate int) bool {
	return t.mul != 0 && int64(toRate)*t.div == int64(fromRate)*t.mul
}

// Map returns the timestamp in the second stream of the instant that ts
// names in the first. Going to a slower clock it rounds down to the
// instant's tick.
func (t *Timeline) Map(ts uint32) uint32 {
	if t.div == 0 {
		return ts
	}
	d := int64(int32(ts - t.from)) // signed: a little before the anchor maps too
	out := t.to + uint32(floorDiv(d*t.mul, t.div))
	if d > 1<<29 { // re-anchor by whole periods of the ratio: exact
		k := d / t.div
		t.from += uint32(k * t.div)
		t.to += uint32(k * t.mul)
	}
	return out
}

// ticks converts a duration in ticks of the first clock to ticks of the
// second, rounding down.
func (t *Timeline) ticks(n int64) int64 {
	if t.div == 0 {
		return n
	}
	return floorDiv(n*t.mul, t.div)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
