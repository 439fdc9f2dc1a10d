package tonetest

import "testing"

func TestSNR(t *testing.T) {
	tone := Sine(700, 8000, 8000, 0, 8000)
	if got := SNR(tone, 700, 8000); got < 60 {
		t.Errorf("SNR(700 Hz tone, 700) = %.1f dB, want >= 60", got)
	}
	if got := SNR(tone, 1000, 8000); got > -60 {
		t.Errorf("SNR(700 Hz tone, 1000) = %.1f dB, want <= -60", got)
	}
	mixed := Sine(1000, 8000, 8000, 0, 8000)
	for i := range mixed {
		mixed[i] = mixed[i]/2 + tone[i]/2
	}
	if got := SNR(mixed, 700, 8000); got < -1 || got > 1 {
		t.Errorf("SNR(equal 700 and 1000 Hz, 700) = %.1f dB, want about 0", got)
	}
}
