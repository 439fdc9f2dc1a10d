package codec

import (
	"bytes"
	"errors"
	"testing"

	"gopkg.in/hraban/opus.v2"
)

// opusPacketTests are Opus packets with their duration at 48 kHz by hand
// from RFC 6716 section 3.1 table 2 and section 3.2, 0 for malformed.
var opusPacketTests = []struct {
	name   string
	packet []byte
	want   int
}{
	{"empty", nil, 0},
	{"SILK NB 20 ms, TOC only (DTX)", []byte{0x08}, 960},
	{"SILK NB 10 ms", []byte{0x00, 1, 2, 3}, 480},
	{"SILK NB 40 ms", []byte{0x10, 1}, 1920},
	{"SILK NB 60 ms", []byte{0x18, 1}, 2880},
	{"SILK WB 20 ms", []byte{0x48, 1}, 960},
	{"hybrid SWB 10 ms", []byte{0x60, 1}, 480},
	{"hybrid FB 20 ms", []byte{0x78, 1}, 960},
	{"CELT NB 2.5 ms", []byte{0x80, 1}, 120},
	{"CELT FB 20 ms", []byte{0xf8, 1}, 960},
	{"code 1, two 2-byte frames", []byte{0x09, 1, 2, 3, 4}, 1920},
	{"code 1, odd length", []byte{0x09, 1, 2, 3}, 0},
	{"code 1, no frames", []byte{0x09}, 1920},
	{"code 2, 2 and 3 bytes", []byte{0x0a, 2, 1, 2, 3, 4, 5}, 1920},
	{"code 2, first frame too long", []byte{0x0a, 5, 1}, 0},
	{"code 2, no length", []byte{0x0a}, 0},
	{"code 2, two-byte length cut", []byte{0x0a, 252}, 0},
	{"code 2, two-byte length 252+4*1", []byte{0x0a, 252, 1}, 0},
	{"code 3 CBR, 3 frames of 2", []byte{0x0b, 0x03, 1, 2, 3, 4, 5, 6}, 2880},
	{"code 3 CBR, uneven", []byte{0x0b, 0x03, 1, 2, 3, 4, 5}, 0},
	{"code 3, no count", []byte{0x0b}, 0},
	{"code 3, zero frames", []byte{0x0b, 0x00}, 0},
	{"code 3, 6 x 20 ms is 120 ms", []byte{0x0b, 0x06}, 5760},
	{"code 3, 3 x 60 ms is over 120 ms", []byte{0x1b, 0x03}, 0},
	{"code 3, 48 x 2.5 ms", []byte{0x83, 48}, 5760},
	{"code 3, 49 x 2.5 ms", []byte{0x83, 49}, 0},
	{"code 3 padding 2", []byte{0x0b, 0x41, 2, 9, 0, 0}, 960},
	{"code 3 padding longer than packet", []byte{0x0b, 0x41, 5, 9}, 0},
	{"code 3 padding length missing", []byte{0x0b, 0x41}, 0},
	{"code 3 padding 255 chain", append([]byte{0x0b, 0x41, 255, 0}, make([]byte, 254)...), 960},
	{"code 3 VBR, 1 and 2 bytes", []byte{0x0b, 0x82, 1, 7, 8, 9}, 1920},
	{"code 3 VBR, length past end", []byte{0x0b, 0x82, 9, 7}, 0},
	{"code 3 VBR, lengths missing", []byte{0x0b, 0x83, 1}, 0},
	{"code 0, 1275-byte frame", append([]byte{0x08}, make([]byte, 1275)...), 960},
	{"code 0, 1276-byte frame", append([]byte{0x08}, make([]byte, 1276)...), 0},
	{"code 1, two 1276-byte frames", append([]byte{0x09}, make([]byte, 2552)...), 0},
}

func TestOpusDuration(t *testing.T) {
	for _, tt := range opusPacketTests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := opusDuration(tt.packet)
			if tt.want == 0 {
				if !errors.Is(err, ErrOpusPacket) {
					t.Errorf("opusDuration(% x) = %d, %v, want ErrOpusPacket", tt.packet, got, err)
				}
			} else if got != tt.want || err != nil {
				t.Errorf("opusDuration(% x) = %d, %v, want %d", tt.packet, got, err, tt.want)
			}
			checkAgainstLibopus(t, tt.packet)
		})
	}
}

// checkAgainstLibopus fails unless libopus decodes exactly the packets
// opusDuration accepts, to as many samples.
func checkAgainstLibopus(t *testing.T, packet []byte) {
	t.Helper()
	dec, err := opus.NewDecoder(48000, 1)
	if err != nil {
		t.Fatalf("opus.NewDecoder: %v", err)
	}
	pcm := make([]int16, 5760)
	n, libErr := dec.Decode(packet, pcm)
	want, _, err := opusDuration(packet)
	switch {
	case len(packet) == 0: // hraban/opus refuses empty input itself
	case (err == nil) != (libErr == nil):
		t.Errorf("opusDuration(% x) error %v, libopus error %v", head(packet), err, libErr)
	case err == nil && n != want:
		t.Errorf("opusDuration(% x) = %d, libopus decodes %d", head(packet), want, n)
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

func TestOpusDecoderShortAndDTX(t *testing.T) {
	dec, err := NewOpusDecoder()
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, maxOpusSamples)
	// A TOC-only packet (DTX) decodes to its frame's length.
	if n, err := dec.Decode(pcm, []byte{0x08}); n != 160 || err != nil {
		t.Errorf("Decode(DTX 20 ms) = %d, %v, want 160, nil", n, err)
	}
	// An empty one is concealed for as long.
	if n, err := dec.Decode(pcm, nil); n != 160 || err != nil {
		t.Errorf("Decode(empty) = %d, %v, want 160, nil", n, err)
	}
	if n, err := dec.Decode(pcm, []byte{0x18, 0}); n != 480 || err != nil {
		t.Errorf("Decode(60 ms) = %d, %v, want 480, nil", n, err)
	}
	if n, err := dec.Decode(pcm[:479], []byte{0x18, 0}); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("Decode(60 ms into 479) = %d, %v, want ErrShortBuffer", n, err)
	}
	if _, err := dec.Conceal(pcm[:30]); !errors.Is(err, ErrFrameSize) {
		t.Errorf("Conceal(30 samples) = %v, want ErrFrameSize", err)
	}
	if _, err := dec.DecodeFEC(pcm[:160], []byte{0x0b}); !errors.Is(err, ErrOpusPacket) {
		t.Errorf("DecodeFEC(malformed) = %v, want ErrOpusPacket", err)
	}
	if _, err := dec.Decode(pcm, bytes.Repeat([]byte{0xff}, 3)); !errors.Is(err, ErrOpusPacket) {
		t.Errorf("Decode(ff ff ff) = %v, want ErrOpusPacket", err)
	}
}
