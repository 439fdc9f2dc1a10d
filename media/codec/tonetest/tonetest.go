// Package tonetest makes and finds test tones for the tests of audio
// paths (codecs, the relay, a call end to end), as httptest does for HTTP:
// Sine writes a tone, SNR measures how much of a signal is that tone.
package tonetest

import "math"

// Sine returns n samples at rate Hz of a tone of freq Hz and amplitude
// amp, starting at sample offset start (so consecutive calls continue one
// tone).
func Sine(freq, amp float64, rate, start, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(start+i)/float64(rate))))
	}
	return out
}

// SNR is the power of the freq Hz component of x, sampled at rate Hz
// (Goertzel, RMS normalised), against the power of everything else, in
// dB; +Inf for a pure tone. x should span a whole number of the tone's
// periods, and not be empty.
func SNR(x []int16, freq float64, rate int) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2, total float64
	for _, v := range x {
		f := float64(v)
		s1, s2 = f+coeff*s1-s2, s1
		total += f * f
	}
	n := float64(max(len(x), 1))
	tone := 2 * (s1*s1 + s2*s2 - coeff*s1*s2) / (n * n) // mean power of the sinusoid
	rest := total/n - tone
	if rest <= 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(tone/rest)
}
