package codec

import (
	"errors"
	"fmt"
	"testing"
)

// callPair is the two transcoders of one call: the carrier's G.711 to
// the app's Opus and back, with timelines anchored at 0.
type callPair struct {
	up   *G711ToOpus // carrier to app
	down *OpusToG711 // app to carrier
}

func newCallPair(tb testing.TB, law Law) callPair {
	tb.Helper()
	up, err := NewG711ToOpus(law, mustTimeline(tb, 8000, 48000, 0, 0), DefaultOpusConfig())
	if err != nil {
		tb.Fatalf("NewG711ToOpus: %v", err)
	}
	down, err := NewOpusToG711(law, mustTimeline(tb, 48000, 8000, 0, 0))
	if err != nil {
		tb.Fatalf("NewOpusToG711: %v", err)
	}
	return callPair{up, down}
}

// opusPacket is one encoded packet with its RTP header fields.
type opusPacket struct {
	seq     uint16
	ts      uint32
	payload []byte
}

// encodeSignal companded by law and turned into Opus, 20 ms per packet.
func encodeSignal(tb testing.TB, up *G711ToOpus, law Law, pcm []int16) []opusPacket {
	tb.Helper()
	var pkts []opusPacket
	g := make([]byte, FrameSamples)
	for i := 0; i+FrameSamples <= len(pcm); i += FrameSamples {
		law.Encode(g, pcm[i:i+FrameSamples])
		buf := make([]byte, MaxPayload)
		seq, ts := uint16(i/FrameSamples), uint32(i)
		n, ots, err := up.Transcode(buf, seq, ts, g)
		if err != nil {
			tb.Fatalf("G711ToOpus.Transcode(seq %d) = %v", seq, err)
		}
		if ots != ts*6 {
			tb.Fatalf("G711ToOpus.Transcode(seq %d, ts %d) timestamp %d, want %d", seq, ts, ots, ts*6)
		}
		pkts = append(pkts, opusPacket{seq, ots, buf[:n]})
	}
	return pkts
}

// decodeStream transcodes pkts back to G.711 and decodes it, checking that
// the output is continuous: each payload starts where the last one ended.
func decodeStream(tb testing.TB, down *OpusToG711, law Law, pkts []opusPacket) []int16 {
	tb.Helper()
	var out []int16
	g := make([]byte, MaxPayload)
	pcm := make([]int16, MaxPayload)
	var next uint32
	for i, p := range pkts {
		n, ts, err := down.Transcode(g, p.seq, p.ts, p.payload)
		if err != nil {
			tb.Fatalf("OpusToG711.Transcode(seq %d) = %v", p.seq, err)
		}
		if i > 0 && ts != next {
			tb.Fatalf("OpusToG711.Transcode(seq %d) timestamp %d, want %d (continuous)", p.seq, ts, next)
		}
		next = ts + uint32(n)
		law.Decode(pcm, g[:n])
		out = append(out, pcm[:n]...)
	}
	return out
}

func TestToneSurvivesG711OpusG711(t *testing.T) {
	for _, law := range []Law{PCMU, PCMA} {
		t.Run(law.String(), func(t *testing.T) {
			c := newCallPair(t, law)
			in := sine(1000, 8000, 0, 2*8000) // 2 s, -12 dBFS
			out := decodeStream(t, c.down, law, encodeSignal(t, c.up, law, in))
			if len(out) != len(in) {
				t.Fatalf("%d samples out, want %d", len(out), len(in))
			}
			// Past the codec's start-up, the tone dominates and keeps its level.
			steady := out[800:]
			snr := toneSNR(t, steady, 1000)
			t.Logf("%v->Opus->%v 1 kHz: SNR %.1f dB, RMS %.0f (in %.0f)", law, law, snr, rms(steady), rms(in))
			if snr < 20 {
				t.Errorf("1 kHz through Opus: SNR %.1f dB, want > 20", snr)
			}
			if r := rms(steady) / rms(in); r < 0.7 || r > 1.4 {
				t.Errorf("1 kHz through Opus: level ratio %.2f, want within 3 dB", r)
			}
		})
	}
}

func TestLossConcealment(t *testing.T) {
	const law = PCMU
	c := newCallPair(t, law)
	in := sine(1000, 8000, 0, 3*8000)
	pkts := encodeSignal(t, c.up, law, in)
	// Drop single packets, a burst of 3 and a burst of 5 (more than
	// maxConceal covers), never the last.
	drop := map[int]bool{20: true, 37: true, 50: true, 51: true, 52: true, 90: true, 91: true, 92: true, 93: true, 94: true, 120: true}
	var kept []opusPacket
	for i, p := range pkts {
		if !drop[i] {
			kept = append(kept, p)
		}
	}
	g := make([]byte, MaxPayload)
	pcm := make([]int16, MaxPayload)
	out := make([]int16, 0, len(in))
	var next uint32
	for i, p := range kept {
		n, ts, err := c.down.Transcode(g, p.seq, p.ts, p.payload)
		if err != nil {
			t.Fatalf("Transcode(seq %d) = %v", p.seq, err)
		}
		lost := 0
		if i > 0 {
			lost = int(p.seq-kept[i-1].seq) - 1
		}
		wantN := FrameSamples + min(lost*FrameSamples, maxConceal)
		wantTS := p.ts/6 - uint32(wantN-FrameSamples)
		if n != wantN || ts != wantTS {
			t.Errorf("Transcode(seq %d after %d lost) = %d samples at %d, want %d at %d", p.seq, lost, n, ts, wantN, wantTS)
		}
		if i > 0 && lost*FrameSamples <= maxConceal && ts != next {
			t.Errorf("Transcode(seq %d) at %d, want %d: not continuous", p.seq, ts, next)
		}
		next = ts + uint32(n)
		law.Decode(pcm, g[:n])
		if i > 0 && lost*FrameSamples > maxConceal { // the uncovered part is silence on the wire
			out = append(out, make([]int16, lost*FrameSamples-maxConceal)...)
		}
		out = append(out, pcm[:n]...)
	}
	if len(out) != len(in) {
		t.Fatalf("%d samples out, want %d", len(out), len(in))
	}
	// Every concealed frame holds sound, and the tone is back in full
	// within 10 frames of the last loss.
	for f := range drop {
		if f >= 90 && f < 92 { // beyond the 60 ms concealed: silence on the wire
			continue
		}
		if r := rms(out[f*FrameSamples : (f+1)*FrameSamples]); r < 100 {
			t.Errorf("packet %d concealed: RMS %.0f, want sound", f, r)
		}
	}
	if snr := toneSNR(t, out[130*FrameSamples:], 1000); snr < 20 {
		t.Errorf("after the losses: 1 kHz SNR %.1f dB, want > 20", snr)
	}
}

// TestFECBeatsPLC loses the packet where a tone changes pitch: PLC can only
// carry the old pitch on, FEC in the next packet knows the new one.
func TestFECBeatsPLC(t *testing.T) {
	in := append(sine(600, 8000, 0, 10*FrameSamples), sine(1400, 8000, 10*FrameSamples, 10*FrameSamples)...)
	enc, err := NewOpusEncoder(OpusConfig{Bitrate: 24000, Complexity: 5, PacketLoss: 20})
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for i := 0; i < len(in); i += FrameSamples {
		buf := make([]byte, MaxPayload)
		n, err := enc.Encode(buf, in[i:i+FrameSamples])
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, buf[:n])
	}
	const lost = 11 // the first packet wholly at 1400 Hz, after the codec delay
	decode := func(fec bool) []int16 {
		dec, err := NewOpusDecoder()
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, FrameSamples)
		for i := range lost {
			if _, err := dec.Decode(pcm, pkts[i]); err != nil {
				t.Fatal(err)
			}
		}
		if fec {
			_, err = dec.DecodeFEC(pcm, pkts[lost+1])
		} else {
			_, err = dec.Conceal(pcm)
		}
		if err != nil {
			t.Fatal(err)
		}
		return pcm
	}
	withFEC, withPLC := toneSNR(t, decode(true), 1400), toneSNR(t, decode(false), 1400)
	t.Logf("lost frame at 1400 Hz: FEC %.1f dB, PLC %.1f dB", withFEC, withPLC)
	if withFEC < 5 || withFEC < withPLC+5 {
		t.Errorf("lost frame at 1400 Hz: FEC SNR %.1f dB, PLC %.1f dB; want FEC > 5 dB and 5 dB better", withFEC, withPLC)
	}

	// OpusToG711 takes the same FEC when the packet is missing.
	down, err := NewOpusToG711(PCMU, mustTimeline(t, 48000, 8000, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	g := make([]byte, MaxPayload)
	var n int
	for i, p := range pkts[:lost+2] {
		if i == lost {
			continue
		}
		if n, _, err = down.Transcode(g, uint16(i), uint32(i*960), p); err != nil {
			t.Fatalf("Transcode(seq %d) = %v", i, err)
		}
	}
	if n != 2*FrameSamples {
		t.Fatalf("Transcode after a loss = %d samples, want %d", n, 2*FrameSamples)
	}
	pcm := make([]int16, FrameSamples)
	PCMU.Decode(pcm, g[:FrameSamples])
	if snr := toneSNR(t, pcm, 1400); snr < 5 {
		t.Errorf("OpusToG711 lost frame at 1400 Hz: SNR %.1f dB, want > 5 (FEC)", snr)
	}
}

func TestOpusToG711Stream(t *testing.T) {
	c := newCallPair(t, PCMA)
	pkts := encodeSignal(t, c.up, PCMA, sine(440, 5000, 0, 10*FrameSamples))
	g := make([]byte, MaxPayload)
	step := func(seq uint16, ts uint32, payload []byte) (int, uint32, error) {
		t.Helper()
		return c.down.Transcode(g, seq, ts, payload)
	}
	check := func(name string, n int, ts uint32, err error, wantN int, wantTS uint32) {
		t.Helper()
		if n != wantN || ts != wantTS || err != nil {
			t.Errorf("%s: Transcode = %d, %d, %v; want %d, %d, nil", name, n, ts, err, wantN, wantTS)
		}
	}
	n, ts, err := step(100, 96000, pkts[0].payload)
	check("first", n, ts, err, 160, 16000)
	// A duplicate and an older packet are refused, unwrapped, changing nothing.
	for _, seq := range []uint16{100, 99, 40} {
		if _, _, err := step(seq, 96000, pkts[1].payload); err != ErrLate {
			t.Errorf("Transcode(seq %d after 100) = %v, want ErrLate", seq, err)
		}
	}
	// DTX: the next sequence number 2 s later is not a loss; a TOC-only
	// packet decodes to comfort noise.
	n, ts, err = step(101, 96000+96000, []byte{0x08})
	check("DTX after 2 s", n, ts, err, 160, 32000)
	// An empty payload is concealed for the last packet's length.
	n, ts, err = step(102, 192960, nil)
	check("empty", n, ts, err, 160, 32160)
	// Lost 103 and 104, with nothing but an empty payload in 105: PLC.
	n, ts, err = step(105, 192960+3*960, nil)
	check("loss then empty", n, ts, err, 480, 32320)
	// Garbage counts as lost and changes nothing.
	if _, _, err := step(106, 196800, []byte{0x0b}); !errors.Is(err, ErrOpusPacket) {
		t.Errorf("Transcode(garbage) = %v, want ErrOpusPacket", err)
	}
	n, ts, err = step(107, 197760, pkts[2].payload)
	check("after garbage", n, ts, err, 320, 32800)
	// The sender restarts far away: no loss, no concealment.
	n, ts, err = step(40000, 5000000, pkts[3].payload)
	check("restart", n, ts, err, 160, 833333)
	// A timestamp going backwards with a gap in sequence numbers: nothing to fill.
	n, ts, err = step(40002, 4000000, pkts[4].payload)
	check("backwards", n, ts, err, 160, 666666)
	// Sequence numbers wrap.
	c.down.Reset(mustTimeline(t, 48000, 8000, 0, 0))
	step(65535, 960, pkts[5].payload)
	n, ts, err = step(0, 1920, pkts[6].payload)
	check("seq wrap", n, ts, err, 160, 320)
	// Too small a destination changes nothing.
	if _, _, err := c.down.Transcode(g[:100], 1, 2880, pkts[7].payload); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("Transcode(100-byte dst) = %v, want ErrShortBuffer", err)
	}
	n, ts, err = step(1, 2880, pkts[7].payload)
	check("after short buffer", n, ts, err, 160, 480)
}

func TestG711ToOpusErrors(t *testing.T) {
	c := newCallPair(t, PCMU)
	dst := make([]byte, MaxPayload)
	for _, size := range []int{0, MaxPayload + 1} {
		if _, _, err := c.up.Transcode(dst, uint16(size), 0, make([]byte, size)); !errors.Is(err, ErrFrameSize) {
			t.Errorf("Transcode(%d bytes) = %v, want ErrFrameSize", size, err)
		}
	}
	for _, size := range []int{160, 320, 480, 960} {
		if n, _, err := c.up.Transcode(dst, uint16(size), 0, make([]byte, size)); err != nil || n == 0 {
			t.Errorf("Transcode(%d bytes) = %d, %v, want a packet", size, n, err)
		}
	}
	for _, samples := range []int{0, 20, 40, 159, 240, 640, 960} {
		if err := c.up.SetFrame(samples); !errors.Is(err, ErrFrameSize) {
			t.Errorf("SetFrame(%d) = %v, want ErrFrameSize", samples, err)
		}
	}
	if _, _, err := c.up.Transcode(dst, 960, 0, make([]byte, 160)); err != ErrLate {
		t.Errorf("Transcode(duplicate) = %v, want ErrLate", err)
	}
	if _, _, err := c.up.Transcode(dst[:0], 961, 0, make([]byte, 160)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("Transcode(empty dst) = %v, want ErrShortBuffer", err)
	}
	if err := c.up.SetPacketLoss(101); !errors.Is(err, ErrConfig) {
		t.Errorf("SetPacketLoss(101) = %v, want ErrConfig", err)
	}
	if err := c.up.SetPacketLoss(30); err != nil {
		t.Errorf("SetPacketLoss(30) = %v", err)
	}
}

func TestConstructorErrors(t *testing.T) {
	down, up := mustTimeline(t, 48000, 8000, 0, 0), mustTimeline(t, 8000, 48000, 0, 0)
	if _, err := NewOpusToG711(Law(0), down); !errors.Is(err, ErrLaw) {
		t.Errorf("NewOpusToG711(Law(0)) = %v, want ErrLaw", err)
	}
	if _, err := NewOpusToG711(PCMU, up); !errors.Is(err, ErrClockRate) {
		t.Errorf("NewOpusToG711(8000->48000) = %v, want ErrClockRate", err)
	}
	if _, err := NewOpusToG711(PCMU, Timeline{}); !errors.Is(err, ErrClockRate) {
		t.Errorf("NewOpusToG711(Timeline{}) = %v, want ErrClockRate", err)
	}
	if _, err := NewG711ToOpus(PCMA, down, DefaultOpusConfig()); !errors.Is(err, ErrClockRate) {
		t.Errorf("NewG711ToOpus(48000->8000) = %v, want ErrClockRate", err)
	}
	if _, err := NewG711ToOpus(Law(3), up, DefaultOpusConfig()); !errors.Is(err, ErrLaw) {
		t.Errorf("NewG711ToOpus(Law(3)) = %v, want ErrLaw", err)
	}
	for _, cfg := range []OpusConfig{
		{}, {Bitrate: 5999, Complexity: 5}, {Bitrate: 24000, Complexity: 11},
		{Bitrate: 24000, Complexity: -1}, {Bitrate: 24000, PacketLoss: -1}, {Bitrate: 24000, PacketLoss: 101},
	} {
		if _, err := NewG711ToOpus(PCMU, up, cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewG711ToOpus(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	if _, err := NewOpusEncoder(OpusConfig{Bitrate: 12000}); err != nil {
		t.Errorf("NewOpusEncoder(complexity 0, no loss) = %v", err)
	}
}

// TestNoAllocs: the per-packet paths allocate nothing once warm.
func TestNoAllocs(t *testing.T) {
	c := newCallPair(t, PCMU)
	pkts := encodeSignal(t, c.up, PCMU, sine(1000, 8000, 0, 20*FrameSamples))
	g := make([]byte, MaxPayload)
	pcm := make([]int16, FrameSamples)
	ev := []byte{5, 10, 0x03, 0xc0}
	g30 := make([]byte, 240)
	tr, err := NewEventTranslator(mustTimeline(t, 48000, 8000, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var seqUp, seqDown uint16 = 1000, 0
	var i int
	tests := []struct {
		name string
		f    func()
	}{
		{"Law.Encode", func() { PCMU.Encode(g, pcm) }},
		{"Law.Decode", func() { PCMA.Decode(pcm, g[:FrameSamples]) }},
		{"G711ToOpus.Transcode", func() {
			seqUp++
			if _, _, err := c.up.Transcode(g, seqUp, uint32(seqUp)*160, g[:FrameSamples]); err != nil {
				t.Fatal(err)
			}
		}},
		{"OpusToG711.Transcode", func() {
			p := pkts[i%len(pkts)]
			i++
			seqDown += 1 + uint16(i%7/6) // a loss every 7 packets: FEC too
			if _, _, err := c.down.Transcode(g, seqDown, uint32(seqDown)*960, p.payload); err != nil {
				t.Fatal(err)
			}
		}},
		{"G711ToOpus.Transcode 30 ms and Next", func() {
			seqUp++
			for n, _, err := c.up.Transcode(g, seqUp, uint32(seqUp)*240, g30); n > 0 || err != nil; n, _, err = c.up.Next(g) {
				if err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"OpusToG711.Event after a loss", func() {
			seqDown += 2
			c.down.Event(g, seqDown, uint32(seqDown)*960)
		}},
		{"OpusToG711.Transcode late", func() { c.down.Transcode(g, seqDown, 0, pkts[0].payload) }},
		{"EventTranslator.Translate", func() { tr.Translate(ev, 960, ev) }},
		{"ParseEvent", func() { ParseEvent(ev) }},
	}
	for _, tt := range tests {
		if allocs := testing.AllocsPerRun(200, tt.f); allocs != 0 {
			t.Errorf("%s: %.1f allocs per call, want 0", tt.name, allocs)
		}
	}
}

// TestG711ToOpusFrames: whatever the G.711 packets last, the Opus packets
// last the frame set, 20 ms by default, with timestamps one frame apart
// and the tone intact.
func TestG711ToOpusFrames(t *testing.T) {
	for _, tt := range []struct {
		in, frame int // samples at 8000 Hz
	}{{160, 160}, {80, 160}, {240, 160}, {320, 160}, {400, 160}, {240, 480}, {160, 80}} {
		t.Run(fmt.Sprintf("%d_to_%d", tt.in, tt.frame), func(t *testing.T) {
			c := newCallPair(t, PCMA)
			if tt.frame != FrameSamples {
				if err := c.up.SetFrame(tt.frame); err != nil {
					t.Fatal(err)
				}
			}
			if c.up.Frame() != tt.frame {
				t.Fatalf("Frame() = %d, want %d", c.up.Frame(), tt.frame)
			}
			sig := sine(1000, 8000, 0, 100*FrameSamples)
			g := make([]byte, tt.in)
			dst := make([]byte, MaxPayload)
			dec, err := NewOpusDecoder()
			if err != nil {
				t.Fatal(err)
			}
			pcm := make([]int16, maxOpusSamples)
			var out []int16
			var pkts int
			var lastTS uint32
			for i := 0; i+tt.in <= len(sig); i += tt.in {
				PCMA.Encode(g, sig[i:i+tt.in])
				n, ts, err := c.up.Transcode(dst, uint16(i/tt.in), 7+uint32(i), g)
				for ; n > 0 && err == nil; n, ts, err = c.up.Next(dst) {
					if pkts > 0 && ts != lastTS+uint32(tt.frame*6) {
						t.Fatalf("packet %d: timestamp %d after %d, want +%d", pkts, ts, lastTS, tt.frame*6)
					}
					if pkts == 0 && ts != 42 {
						t.Fatalf("first packet: timestamp %d, want 42 (7 at 8000 Hz)", ts)
					}
					m, err := dec.Decode(pcm, dst[:n])
					if err != nil || m != tt.frame {
						t.Fatalf("packet %d decodes to %d samples (%v), want %d", pkts, m, err, tt.frame)
					}
					out = append(out, pcm[:m]...)
					pkts, lastTS = pkts+1, ts
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if want := len(sig) / tt.in * tt.in / tt.frame; pkts != want {
				t.Errorf("%d Opus packets, want %d", pkts, want)
			}
			if snr := toneSNR(t, out[800:], 1000); snr < 15 {
				t.Errorf("1000 Hz through: SNR %.1f dB, want >= 15", snr)
			}
		})
	}
}

// TestOpusToG711Event: sequence numbers a telephone-event took are no
// loss, and the time the event took is not concealed; audio lost just
// before an event is concealed up to its start.
func TestOpusToG711Event(t *testing.T) {
	c := newCallPair(t, PCMU)
	pkts := encodeSignal(t, c.up, PCMU, sine(1000, 8000, 0, 30*FrameSamples))
	g := make([]byte, MaxPayload)
	if n, _, err := c.down.Event(g, 0, 0); n != 0 || err != nil {
		t.Fatalf("Event before any audio = %d, %v; want 0, nil", n, err)
	}
	c.down.Reset(mustTimeline(t, 48000, 8000, 0, 0))
	for _, p := range pkts[:10] { // seq 0-9
		if _, _, err := c.down.Transcode(g, p.seq, p.ts, p.payload); err != nil {
			t.Fatal(err)
		}
	}
	// Seq 10 lost; the event of seq 11-13 starts at frame 11: frame 10 is
	// concealed, once.
	n, ts, err := c.down.Event(g, 11, 11*960)
	if n != FrameSamples || ts != 10*FrameSamples || err != nil {
		t.Fatalf("Event(seq 11, after a loss) = %d, %d, %v; want 160 at 1600", n, ts, err)
	}
	if rms := rms(decodeLaw(PCMU, g[:n])); rms < 100 {
		t.Errorf("concealed frame RMS %.0f: want the tone carried on", rms)
	}
	for seq := uint16(12); seq <= 13; seq++ {
		if n, _, err := c.down.Event(g, seq, 11*960); n != 0 || err != nil {
			t.Errorf("Event(seq %d, no loss) = %d, %v; want 0, nil", seq, n, err)
		}
	}
	if n, _, err := c.down.Event(g, 12, 11*960); n != 0 || err != nil {
		t.Errorf("Event(seq 12 again) = %d, %v; want 0, nil", n, err)
	}
	// Audio resumes at frame 14, seq 14: nothing concealed for 11-13.
	n, ts, err = c.down.Transcode(g, 14, 14*960, pkts[14].payload)
	if n != FrameSamples || ts != 14*FrameSamples || err != nil {
		t.Errorf("Transcode after the event = %d, %d, %v; want 160 at 2240", n, ts, err)
	}
	// An event right after audio, with no loss, conceals nothing.
	if n, _, err := c.down.Event(g, 15, 15*960); n != 0 || err != nil {
		t.Errorf("Event(seq 15) = %d, %v; want 0, nil", n, err)
	}
	// The first audio lost after the event is concealed just before the
	// packet after it, not in the event's time.
	n, ts, err = c.down.Transcode(g, 17, 20*960, pkts[20].payload)
	if n != 2*FrameSamples || ts != 19*FrameSamples || err != nil {
		t.Errorf("Transcode(seq 17, seq 16 lost after the event) = %d, %d, %v; want 320 at 3040", n, ts, err)
	}
}

func decodeLaw(l Law, g []byte) []int16 {
	pcm := make([]int16, len(g))
	l.Decode(pcm, g)
	return pcm
}
