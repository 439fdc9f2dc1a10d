package codec

import (
	"math"
	"testing"
)

// sine returns n samples at 8000 Hz of a tone of freq Hz and amplitude
// amp, starting at sample offset start (so consecutive calls continue one
// tone).
func sine(freq, amp float64, start, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(start+i)/8000)))
	}
	return out
}

// toneSNR is the power of the freq Hz component of x (Goertzel, RMS
// normalised) against the power of everything else, in dB. x should span a
// whole number of the tone's periods.
func toneSNR(tb testing.TB, x []int16, freq float64) float64 {
	tb.Helper()
	if len(x) == 0 {
		tb.Fatal("toneSNR of no samples")
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2, total float64
	for _, v := range x {
		f := float64(v)
		s1, s2 = f+coeff*s1-s2, s1
		total += f * f
	}
	n := float64(len(x))
	mag2 := s1*s1 + s2*s2 - coeff*s1*s2 // |X(freq)|^2
	tone := 2 * mag2 / (n * n)          // mean power of the sinusoid
	total /= n
	rest := total - tone
	if rest <= 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(tone/rest)
}

// rms is the root mean square of x.
func rms(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(len(x), 1)))
}

// mustTimeline builds a Timeline or fails the test.
func mustTimeline(tb testing.TB, fromRate, toRate int, from, to uint32) Timeline {
	tb.Helper()
	tl, err := NewTimeline(fromRate, toRate, from, to)
	if err != nil {
		tb.Fatalf("NewTimeline(%d, %d) = %v", fromRate, toRate, err)
	}
	return tl
}

func TestToneSNRHelper(t *testing.T) {
	x := sine(1000, 8000, 0, 800)
	if got := toneSNR(t, x, 1000); got < 40 {
		t.Errorf("toneSNR(pure 1 kHz) = %.1f dB, want > 40", got)
	}
	if got := toneSNR(t, x, 2000); got > -20 {
		t.Errorf("toneSNR(1 kHz at 2 kHz) = %.1f dB, want < -20", got)
	}
}
