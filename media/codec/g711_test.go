package codec

import (
	"errors"
	"testing"
)

func TestLawKnownValues(t *testing.T) {
	// ITU-T G.711: the codes of zero and of the extremes, and their
	// decoded values (16-bit, as the G.191 reference code scales them).
	tests := []struct {
		law  Law
		in   int16
		code byte
		out  int16
	}{
		{PCMU, 0, 0xff, 0},
		{PCMU, -1, 0x7f, 0}, // μ-law's negative zero
		{PCMU, 32767, 0x80, 32124},
		{PCMU, -32768, 0x00, -32124},
		{PCMU, 1000, 0xce, 988},
		{PCMA, 0, 0xd5, 8},
		{PCMA, -1, 0x55, -8},
		{PCMA, 32767, 0xaa, 32256},
		{PCMA, -32768, 0x2a, -32256},
		{PCMA, 1000, 0xfa, 1008},
	}
	for _, tt := range tests {
		var code [1]byte
		if _, err := tt.law.Encode(code[:], []int16{tt.in}); err != nil {
			t.Fatalf("%v.Encode(%d) error %v", tt.law, tt.in, err)
		}
		if code[0] != tt.code {
			t.Errorf("%v.Encode(%d) = %#x, want %#x", tt.law, tt.in, code[0], tt.code)
		}
		var pcm [1]int16
		if _, err := tt.law.Decode(pcm[:], code[:]); err != nil {
			t.Fatalf("%v.Decode(%#x) error %v", tt.law, code[0], err)
		}
		if pcm[0] != tt.out {
			t.Errorf("%v.Decode(%#x) = %d, want %d", tt.law, code[0], pcm[0], tt.out)
		}
	}
}

func TestLawExhaustive(t *testing.T) {
	for _, law := range []Law{PCMU, PCMA} {
		t.Run(law.String(), func(t *testing.T) {
			// Every code decodes to a value that encodes back to it, but
			// μ-law's negative zero, which encodes as positive zero.
			for c := range 256 {
				var pcm [1]int16
				var code [1]byte
				law.Decode(pcm[:], []byte{byte(c)})
				law.Encode(code[:], pcm[:])
				want := byte(c)
				if law == PCMU && c == 0x7f {
					want = 0xff
				}
				if code[0] != want {
					t.Errorf("Encode(Decode(%#x) = %d) = %#x, want %#x", c, pcm[0], code[0], want)
				}
			}
			// Every sample comes back within half a step of the top
			// segment (1024 in 16-bit units) plus the clipping at the ends.
			in := make([]int16, 1<<16)
			for i := range in {
				in[i] = int16(i - 1<<15)
			}
			codes := make([]byte, len(in))
			out := make([]int16, len(in))
			law.Encode(codes, in)
			law.Decode(out, codes)
			for i := range in {
				if d := int(out[i]) - int(in[i]); d > 700 || d < -700 {
					t.Fatalf("Decode(Encode(%d)) = %d, off by %d", in[i], out[i], d)
				}
				if i > 0 && out[i] < out[i-1] {
					t.Fatalf("Decode(Encode(%d)) = %d < Decode(Encode(%d)) = %d: not monotonic", in[i], out[i], in[i-1], out[i-1])
				}
			}
		})
	}
}

func TestLawToneSNR(t *testing.T) {
	// G.711 gives about 38 dB on a loud tone.
	for _, law := range []Law{PCMU, PCMA} {
		in := sine(1000, 10000, 0, 8000)
		codes := make([]byte, len(in))
		out := make([]int16, len(in))
		law.Encode(codes, in)
		law.Decode(out, codes)
		if got := toneSNR(t, out, 1000); got < 30 {
			t.Errorf("%v round trip of 1 kHz: SNR %.1f dB, want > 30", law, got)
		}
	}
}

func TestLawErrors(t *testing.T) {
	pcm := make([]int16, FrameSamples)
	codes := make([]byte, FrameSamples)
	if _, err := PCMU.Encode(codes[:FrameSamples-1], pcm); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("PCMU.Encode(short dst) = %v, want ErrShortBuffer", err)
	}
	if _, err := PCMA.Decode(pcm[:1], codes); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("PCMA.Decode(short dst) = %v, want ErrShortBuffer", err)
	}
	if _, err := Law(0).Encode(codes, pcm); !errors.Is(err, ErrLaw) {
		t.Errorf("Law(0).Encode = %v, want ErrLaw", err)
	}
	if _, err := Law(9).Decode(pcm, codes); !errors.Is(err, ErrLaw) {
		t.Errorf("Law(9).Decode = %v, want ErrLaw", err)
	}
	if n, err := PCMU.Encode(nil, nil); n != 0 || err != nil {
		t.Errorf("PCMU.Encode(nil, nil) = %d, %v, want 0, nil", n, err)
	}
}
