package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzParseEvent feeds telephone-event payloads from the network to the
// parser and the translator, both ways. Seeds: testdata/fuzz/FuzzParseEvent.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte{0x05, 0x0a, 0x03, 0x20}, uint32(964800))
	f.Add([]byte{0x0b, 0x8a, 0xff, 0xff, 0x01, 0x0a, 0x00, 0xa0}, uint32(0xffffff00))
	f.Add([]byte{0x01, 0x02, 0x03}, uint32(0))
	down := mustTimeline(f, 48000, 8000, 960000, 160000)
	up := mustTimeline(f, 8000, 48000, 160000, 960000)
	f.Fuzz(func(t *testing.T, payload []byte, ts uint32) {
		ev, err := ParseEvent(payload)
		if (err == nil) != (len(payload) == EventSize) {
			t.Fatalf("ParseEvent(% x) = %v", payload, err)
		}
		if err == nil {
			var b [EventSize]byte
			if _, err := ev.MarshalTo(b[:]); err != nil || b[0] != payload[0] || b[1] != payload[1]&^0x40 || !bytes.Equal(b[2:], payload[2:]) {
				t.Fatalf("ParseEvent(% x).MarshalTo = % x, %v", payload, b, err)
			}
		}
		for _, tl := range []Timeline{down, up} {
			tr, err := NewEventTranslator(tl)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]byte, len(payload))
			n, _, err := tr.Translate(dst, ts, payload)
			valid := len(payload) > 0 && len(payload)%EventSize == 0
			if valid != (err == nil) {
				t.Fatalf("Translate(% x) = %v", payload, err)
			}
			if err != nil {
				if !errors.Is(err, ErrEvent) {
					t.Fatalf("Translate(% x) = %v, want ErrEvent", payload, err)
				}
				continue
			}
			if n != len(payload) {
				t.Fatalf("Translate(% x) wrote %d bytes", payload, n)
			}
			for i := 0; i < n; i += EventSize {
				in, out := binary.BigEndian.Uint16(payload[i+2:]), binary.BigEndian.Uint16(dst[i+2:])
				if dst[i] != payload[i] || dst[i+1] != payload[i+1] || (in == 0) != (out == 0) {
					t.Fatalf("Translate(% x) = % x: event, flags or zero duration changed", payload, dst)
				}
				if tl == down && out != max(in/6, min(in, 1)) {
					t.Fatalf("Translate(% x) = % x: duration %d, want %d", payload, dst, out, max(in/6, min(in, 1)))
				}
			}
		}
	})
}

// FuzzOpusDecode feeds Opus payloads from the network to the decode path:
// the framing check must agree with libopus, and transcoding must return
// audio or an error, never panic. Seeds: testdata/fuzz/FuzzOpusDecode.
func FuzzOpusDecode(f *testing.F) {
	for _, tt := range opusPacketTests {
		f.Add(tt.packet)
	}
	enc, err := NewOpusEncoder(DefaultOpusConfig())
	if err != nil {
		f.Fatal(err)
	}
	buf := make([]byte, MaxPayload)
	for i := range 3 {
		n, err := enc.Encode(buf, sine(1000, 8000, i*FrameSamples, FrameSamples))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Clone(buf[:n]))
	}
	good := make([]byte, MaxPayload) // a real packet to start each stream with
	gn, err := enc.Encode(good, sine(1000, 8000, 0, FrameSamples))
	if err != nil {
		f.Fatal(err)
	}
	good = good[:gn]
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkAgainstLibopus(t, payload)
		total, _, perr := opusDuration(payload)
		down, err := NewOpusToG711(PCMU, mustTimeline(t, 48000, 8000, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, MaxPayload)
		if _, _, err := down.Transcode(dst, 0, 0, good); err != nil {
			t.Fatalf("Transcode(good) = %v", err)
		}
		// Next in sequence, then after a loss (FEC from the payload).
		for _, seq := range []uint16{1, 3} {
			ts := uint32(seq) * 960
			n, _, err := down.Transcode(dst, seq, ts, payload)
			switch {
			case perr != nil && len(payload) > 0:
				if !errors.Is(err, ErrOpusPacket) {
					t.Fatalf("Transcode(% x) = %v, want ErrOpusPacket", head(payload), err)
				}
			case err != nil:
				t.Fatalf("Transcode(% x) = %v", head(payload), err)
			case len(payload) > 0 && seq == 1 && n != total/6:
				t.Fatalf("Transcode(% x) = %d samples, want %d", head(payload), n, total/6)
			}
		}
	})
}
