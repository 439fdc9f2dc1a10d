package codec

import (
	"math"
	"testing"

	"github.com/dialtone/dialtone/media/codec/tonetest"
)

// sine returns n samples at 8000 Hz of a tone of freq Hz and amplitude
// amp, starting at sample offset start.
func sine(freq, amp float64, start, n int) []int16 {
	return tonetest.Sine(freq, amp, 8000, start, n)
}

// toneSNR is the power at freq Hz of 8 kHz samples x against the rest, in dB.
func toneSNR(tb testing.TB, x []int16, freq float64) float64 {
	tb.Helper()
	if len(x) == 0 {
		tb.Fatal("toneSNR of no samples")
	}
	return tonetest.SNR(x, freq, 8000)
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
