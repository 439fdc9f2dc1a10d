package codec

import (
	"fmt"

	"github.com/zaf/g711"
)

// Law is a G.711 companding law (ITU-T G.711 (11/88): A-law in Table 1,
// μ-law in Table 2). Samples are 16-bit linear PCM; G.711 keeps 14 bits
// (μ-law) or 13 bits (A-law) of them, one byte per sample at 8000 Hz.
//
// The companding is github.com/zaf/g711's: decoding by a 256-entry table,
// encoding by the segment arithmetic of the ITU-T G.191 reference code
// (one's complement for negative samples, as the reference does).
type Law uint8

const (
	// PCMU is μ-law, RTP static payload type 0 (RFC 3551 section 4.5.14).
	PCMU Law = iota + 1
	// PCMA is A-law, RTP static payload type 8 (RFC 3551 section 4.5.14).
	PCMA
)

// FrameSamples is the length of a 20 ms frame at 8000 Hz: the usual G.711
// payload and the Opus frame this package encodes.
const FrameSamples = 160

func (l Law) String() string {
	switch l {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("Law(%d)", uint8(l))
}

func (l Law) valid() error {
	if l != PCMU && l != PCMA {
		return fmt.Errorf("%w: %d", ErrLaw, uint8(l))
	}
	return nil
}

// Encode compands the samples of pcm into dst, one byte each, and returns
// len(pcm). dst must hold len(pcm) bytes.
func (l Law) Encode(dst []byte, pcm []int16) (int, error) {
	if len(dst) < len(pcm) {
		return 0, fmt.Errorf("g.711 encode %d samples into %d bytes: %w", len(pcm), len(dst), ErrShortBuffer)
	}
	dst = dst[:len(pcm)]
	switch l {
	case PCMU:
		for i, s := range pcm {
			dst[i] = g711.EncodeUlawFrame(s)
		}
	case PCMA:
		for i, s := range pcm {
			dst[i] = g711.EncodeAlawFrame(s)
		}
	default:
		return 0, l.valid()
	}
	return len(pcm), nil
}

// Silence is the byte of a zero sample: 0xFF in μ-law, 0xD5 in A-law.
func (l Law) Silence() byte {
	if l == PCMA {
		return g711.EncodeAlawFrame(0)
	}
	return g711.EncodeUlawFrame(0)
}

// Decode expands the G.711 bytes of src into dst and returns len(src).
// dst must hold len(src) samples.
func (l Law) Decode(dst []int16, src []byte) (int, error) {
	if len(dst) < len(src) {
		return 0, fmt.Errorf("g.711 decode %d bytes into %d samples: %w", len(src), len(dst), ErrShortBuffer)
	}
	dst = dst[:len(src)]
	switch l {
	case PCMU:
		for i, b := range src {
			dst[i] = g711.DecodeUlawFrame(b)
		}
	case PCMA:
		for i, b := range src {
			dst[i] = g711.DecodeAlawFrame(b)
		}
	default:
		return 0, l.valid()
	}
	return len(src), nil
}
