package bridge

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/media/codec"
	"github.com/dialtone/dialtone/media/rtp"
	"github.com/dialtone/dialtone/media/sdp"
)

var (
	opusCodec = sdp.Codec{PT: 111, Name: "opus", Clock: 48000, Channels: 2}
	opusEvent = sdp.Codec{PT: 110, Name: "telephone-event", Clock: 48000, Channels: 1}
	pcmuCodec = sdp.Codec{PT: 0, Name: "PCMU", Clock: 8000, Channels: 1}
	pcmaCodec = sdp.Codec{PT: 8, Name: "PCMA", Clock: 8000, Channels: 1}
	g711Event = sdp.Codec{PT: 101, Name: "telephone-event", Clock: 8000, Channels: 1}
)

// sent is one packet a transcoder sent, parsed.
type sent struct {
	pionrtp.Packet
	from int // index of the source packet that made it
}

// feed runs src through tr as the relay does (Process, then Next until
// 0) and returns every packet sent, parsed.
func feed(t *testing.T, tr *transcoder, src []pionrtp.Packet) []sent {
	t.Helper()
	var out []sent
	buf := make([]byte, rtp.MaxPacket)
	for i, p := range src {
		raw, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for n := tr.Process(buf, raw, &p.Header); n > 0; n = tr.Next(buf) {
			var q pionrtp.Packet
			if err := q.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
				t.Fatalf("source packet %d: sent a packet that does not parse: %v", i, err)
			}
			out = append(out, sent{Packet: q, from: i})
		}
	}
	return out
}

// browserStream is what a browser sends on a call: 20 ms Opus frames of a
// 700 Hz tone, and, for each digit, telephone-events at 48000 Hz in
// place of the audio while the digit lasts (libwebrtc sends no audio
// then), all in one sequence: the digit's first packet with the marker,
// its duration growing by 960 a packet, the end packet sent three times
// (RFC 4733 section 2.5.1.4). Audio resumes at the end of the digit.
type browserStream struct {
	pkts   []pionrtp.Packet
	audio  []bool   // per packet: audio, not an event
	starts []uint32 // the digits' timestamps, Opus clock
}

func newBrowserStream(t *testing.T, frames int, digits map[int]int, seq0 uint16, ts0 uint32) *browserStream {
	t.Helper()
	enc, err := codec.NewOpusEncoder(codec.OpusConfig{Bitrate: 24000, Complexity: 5, PacketLoss: 10})
	if err != nil {
		t.Fatal(err)
	}
	s := &browserStream{}
	seq, ts := seq0, ts0
	buf := make([]byte, codec.MaxPayload)
	add := func(h pionrtp.Header, payload []byte, audio bool) {
		h.Version, h.SSRC, h.SequenceNumber = 2, 0xB0B, seq
		s.pkts = append(s.pkts, pionrtp.Packet{Header: h, Payload: payload})
		s.audio = append(s.audio, audio)
		seq++
	}
	for i := 0; i < frames; i++ {
		if n, ok := digits[i]; ok { // a digit lasting n frames
			s.starts = append(s.starts, ts)
			for k := 1; k <= n+2; k++ {
				d, end := min(k, n)*960, k >= n
				ev := codec.Event{Code: uint8(i % 10), End: end, Volume: 10, Duration: uint16(d)}
				b := make([]byte, codec.EventSize)
				if _, err := ev.MarshalTo(b); err != nil {
					t.Fatal(err)
				}
				add(pionrtp.Header{PayloadType: opusEvent.PT, Marker: k == 1, Timestamp: ts}, b, false)
			}
			ts += uint32(n * 960)
			i += n - 1
			continue
		}
		n, err := enc.Encode(buf, sine(700, i*160, 160))
		if err != nil {
			t.Fatal(err)
		}
		add(pionrtp.Header{PayloadType: opusCodec.PT, Timestamp: ts}, append([]byte(nil), buf[:n]...), true)
		ts += 960
	}
	return s
}

// TestG711PacketsUnderLossAndDTMF: what a browser sends with 5 % of its
// Opus packets lost, and DTMF, reaches a G.711 carrier as packets of
// exactly 20 ms, sequence numbers one apart, timestamps 160 apart but
// where a digit took the time, and well-formed events.
func TestG711PacketsUnderLossAndDTMF(t *testing.T) {
	// Digits at frames 100 (5 frames), 250 (8) and 400 (3); a 500-frame
	// call that wraps the sequence numbers.
	s := newBrowserStream(t, 500, map[int]int{100: 5, 250: 8, 400: 3}, 65400, 4000000000)
	// Loss: every 20th audio packet, 2 in a row once, and 1 % more by a
	// fixed seed; a middle packet of the second digit too.
	rng := rand.New(rand.NewPCG(7, 11))
	drop := make([]bool, len(s.pkts))
	var audio, lost int
	for i := range s.pkts {
		if !s.audio[i] {
			continue
		}
		audio++
		if audio%20 == 0 || audio == 333 || rng.IntN(100) == 0 {
			drop[i] = true
		}
	}
	events := 0
	for i := range s.pkts {
		if !s.audio[i] && s.pkts[i].Timestamp == s.starts[1] {
			if events++; events == 4 {
				drop[i] = true // a middle event packet of the second digit
			}
		}
	}
	var in []pionrtp.Packet
	for i, p := range s.pkts {
		if drop[i] {
			if s.audio[i] {
				lost++
			}
			continue
		}
		in = append(in, p)
	}
	if pct := lost * 100 / audio; pct < 5 || pct > 8 {
		t.Fatalf("the test drops %d%% of the audio, want 5-8", pct)
	}
	for _, law := range []sdp.Codec{pcmuCodec, pcmaCodec} {
		t.Run(law.Name, func(t *testing.T) {
			tr, err := newTranscoder(opusCodec, &opusEvent, law, &g711Event, 20, codec.DefaultOpusConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			out := feed(t, tr, in)
			checkG711Stream(t, out, in, law.PT, s.starts)
		})
	}
}

// checkG711Stream checks what a transcoder sent a G.711 leg from the Opus
// stream in, with 20 ms packets on both: checkSequence, and then exactly
// where everything is. Each digit is where the Opus stream had it, the
// audio stops where the digit starts and resumes where it ends, and every
// other 20 ms of the call went out as audio, the tone, concealment
// included.
func checkG711Stream(t *testing.T, out []sent, in []pionrtp.Packet, pt uint8, starts []uint32) {
	t.Helper()
	audio, digits := checkSequence(t, out, pt, g711Event.PT, 160, g711Dur)
	if digits != len(starts) {
		t.Fatalf("%d digits sent, want %d", digits, len(starts))
	}
	// The Opus stream's start maps onto the G.711 stream's first timestamp.
	base := out[0].Timestamp - (in[out[0].from].Timestamp-in[0].Timestamp)/6
	var last sent // the last audio packet
	k := -1       // the digit, in starts
	var end uint32
	for _, p := range out {
		if p.PayloadType == g711Event.PT {
			if k < 0 || p.Timestamp != base+(starts[k]-in[0].Timestamp)/6 {
				if k++; p.Timestamp != base+(starts[k]-in[0].Timestamp)/6 {
					t.Errorf("digit %d: timestamp %d, want %d", k, p.Timestamp, base+(starts[k]-in[0].Timestamp)/6)
				}
				if p.Timestamp != last.Timestamp+160 {
					t.Errorf("digit %d at %d: the audio stopped at %d", k, p.Timestamp, last.Timestamp+160)
				}
			}
			end = p.Timestamp + uint32(binary.BigEndian.Uint16(p.Payload[2:]))
			continue
		}
		if p.Marker && k >= 0 && p.Timestamp != end {
			t.Errorf("audio after digit %d: timestamp %d, want %d (its end)", k, p.Timestamp, end)
		}
		last = p
	}
	span := int((in[len(in)-1].Timestamp-in[0].Timestamp)/960) + 1
	var taken int
	for i := range starts {
		taken += int(digitFrames(in, starts[i]))
	}
	if want := span - taken; audio != want {
		t.Errorf("%d audio packets, want %d (every 20 ms outside the digits)", audio, want)
	}
	// Each talkspurt is the tone, in order.
	l, _ := law(sdp.Codec{PT: pt, Name: map[uint8]string{0: "PCMU", 8: "PCMA"}[pt], Clock: 8000})
	var spurts [][]int16
	for _, p := range out {
		if p.PayloadType != pt {
			continue
		}
		if p.Marker {
			spurts = append(spurts, nil)
		}
		s := make([]int16, len(p.Payload))
		l.Decode(s, p.Payload)
		spurts[len(spurts)-1] = append(spurts[len(spurts)-1], s...)
	}
	for k, pcm := range spurts {
		// Past the first 100 ms: the encoder's start, or the tone's
		// phase jumping where a digit took the time. A concealed frame
		// is far from the tone (PLC fades), so 6 % of them cost the
		// whole some 20 dB; audio out of order would cost it all.
		if snr := toneSNR(pcm[800:], 700); snr < 6 {
			t.Errorf("talkspurt %d: 700 Hz through the loss: SNR %.1f dB, want >= 6", k, snr)
		}
	}
	t.Logf("%d packets: %d audio, %d talkspurts", len(out), audio, len(spurts))
}

// digitFrames is how many 20 ms frames the digit starting at ts took in the Opus
// stream in: its last duration.
func digitFrames(in []pionrtp.Packet, ts uint32) uint32 {
	var d uint32
	for _, p := range in {
		if p.PayloadType == opusEvent.PT && p.Timestamp == ts {
			d = max(d, uint32(binary.BigEndian.Uint16(p.Payload[2:])))
		}
	}
	return d / 960
}

// checkSequence checks what a transcoder sent: plain RTP of one SSRC,
// sequence numbers one apart; audio of exactly frame ticks a packet
// (dur gives a payload's duration), timestamps frame apart within a
// talkspurt and the marker bit on the first packet of each; the events of
// each digit on one timestamp, the marker on the first only, durations
// never shrinking, the end bit on the last. It returns the number of
// audio packets and of digits.
func checkSequence(t *testing.T, out []sent, audioPT, eventPT uint8, frame uint32, dur func([]byte) int) (audio, digits int) {
	t.Helper()
	var last *sent
	var evTS uint32
	var evDur uint16
	evEnded := true
	for i := range out {
		p := &out[i]
		if p.Version != 2 || p.Padding || p.Extension || len(p.CSRC) != 0 || p.SSRC != out[0].SSRC {
			t.Fatalf("packet %d: header %+v, want plain RTP v2 of SSRC %x", i, p.Header, out[0].SSRC)
		}
		if i > 0 && p.SequenceNumber != out[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: sequence number %d after %d, want +1", i, p.SequenceNumber, out[i-1].SequenceNumber)
		}
		switch p.PayloadType {
		case audioPT:
			if d := dur(p.Payload); d != int(frame) {
				t.Fatalf("audio packet %d (from source %d): %d ticks, want %d", i, p.from, d, frame)
			}
			if follows := last != nil && p.Timestamp == last.Timestamp+frame; follows == p.Marker {
				t.Fatalf("audio packet %d (from source %d): timestamp %d after %v, marker %v; want +%d without, else with the marker",
					i, p.from, p.Timestamp, last, p.Marker, frame)
			}
			audio++
			last = p
		case eventPT:
			ev, err := codec.ParseEvent(p.Payload)
			if err != nil {
				t.Fatalf("event packet %d: %v", i, err)
			}
			if p.Timestamp != evTS || digits == 0 {
				if !p.Marker || !evEnded {
					t.Errorf("event packet %d: a new digit, marker %v, the one before ended %v; want both", i, p.Marker, evEnded)
				}
				digits++
				evTS, evDur = p.Timestamp, 0
			} else if p.Marker {
				t.Errorf("event packet %d: marker bit inside a digit", i)
			}
			if ev.Duration == 0 || ev.Duration < evDur || (evEnded && !ev.End && evDur > 0) {
				t.Errorf("event packet %d: %+v after duration %d (ended %v)", i, ev, evDur, evEnded)
			}
			evDur, evEnded = ev.Duration, ev.End
		default:
			t.Fatalf("packet %d: payload type %d", i, p.PayloadType)
		}
	}
	if !evEnded {
		t.Errorf("the last digit did not end")
	}
	return audio, digits
}

func g711Dur(b []byte) int { return len(b) }

// TestG711PacketTime: the carrier's a=ptime sets the G.711 packets'
// duration, whatever the Opus frames' (20 ms here), under loss and DTMF.
func TestG711PacketTime(t *testing.T) {
	s := newBrowserStream(t, 300, map[int]int{100: 6, 200: 3}, 10, 0)
	var in []pionrtp.Packet
	for i, p := range s.pkts {
		if s.audio[i] && i%20 == 7 {
			continue
		}
		in = append(in, p)
	}
	for _, ptime := range []int{10, 30, 40, 60} {
		t.Run(fmt.Sprint(ptime), func(t *testing.T) {
			tr, err := newTranscoder(opusCodec, &opusEvent, pcmuCodec, &g711Event, ptime, codec.DefaultOpusConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			out := feed(t, tr, in)
			audio, digits := checkSequence(t, out, pcmuCodec.PT, g711Event.PT, uint32(ptime*8), g711Dur)
			// 300 frames of 20 ms less the 9 the digits took, in packets
			// of ptime; a part-full packet left at a digit is padded.
			if want := (300 - 9) * 20 / ptime; digits != 2 || audio < want || audio > want+2 {
				t.Errorf("%d audio packets and %d digits, want %d-%d and 2", audio, digits, want, want+2)
			}
		})
	}
}

// TestOpusPacketsFromG711: toward the app, Opus frames last the app's
// packet time (20 ms unless its SDP asks for 10, 40 or 60), whatever the
// carrier's ptime, with sequence numbers one apart across loss and DTMF.
func TestOpusPacketsFromG711(t *testing.T) {
	dec, err := codec.NewOpusDecoder()
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 960)
	opusDur := func(b []byte) int {
		n, err := dec.Decode(pcm, b)
		if err != nil {
			t.Fatalf("Opus that does not decode: %v", err)
		}
		return n * 6
	}
	for _, tt := range []struct{ in, ptime, want int }{
		{20, 0, 20}, {30, 0, 20}, {10, 0, 20}, {60, 0, 20}, {30, 60, 60}, {20, 10, 10}, {20, 30, 20},
	} {
		t.Run(fmt.Sprintf("%dms_to_ptime_%d", tt.in, tt.ptime), func(t *testing.T) {
			tr, err := newTranscoder(pcmuCodec, &g711Event, opusCodec, &opusEvent, tt.ptime, codec.DefaultOpusConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			// 3 s of a 1000 Hz tone from the carrier in packets of tt.in ms,
			// every 10th lost, and a digit of 120 ms (RFC 4733 events at
			// 8000 Hz, audio going on beneath, as SIP phones send) at 1 s.
			var in []pionrtp.Packet
			size := tt.in * 8
			seq := uint16(60000)
			for at := 0; at+size <= 24000; at += size {
				g := make([]byte, size)
				codec.PCMU.Encode(g, sine(1000, at, size))
				if at/size%10 != 9 {
					in = append(in, pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(at), SSRC: 5}, Payload: g})
				}
				seq++
				if at <= 8000 && 8000 < at+size {
					for k := 1; k <= 8; k++ {
						ev := codec.Event{Code: 7, End: k >= 6, Volume: 10, Duration: uint16(min(k, 6) * 160)}
						b := make([]byte, 4)
						ev.MarshalTo(b)
						in = append(in, pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: g711Event.PT, Marker: k == 1, SequenceNumber: seq, Timestamp: 8000, SSRC: 5}, Payload: b})
						seq++
					}
				}
			}
			out := feed(t, tr, in)
			audio, digits := checkSequence(t, out, opusCodec.PT, opusEvent.PT, uint32(tt.want*48), opusDur)
			if digits != 1 {
				t.Errorf("%d digits, want 1", digits)
			}
			// Lost G.711 is not made up: 90 % of 3 s goes out, more
			// where a loss shorter than a frame is filled with silence.
			if got := audio * tt.want; got < 2600 || got > 3000 {
				t.Errorf("%d ms of Opus, want 2600-3000", got)
			}
		})
	}
}

// TestTranscoderNoAllocs: a packet through Process and Next allocates
// nothing, with loss concealed and digits, both ways.
func TestTranscoderNoAllocs(t *testing.T) {
	s := newBrowserStream(t, 200, map[int]int{50: 4, 120: 3}, 0, 0)
	var down [][]byte
	for i, p := range s.pkts {
		if s.audio[i] && i%7 == 3 {
			continue
		}
		b, _ := p.Marshal()
		down = append(down, b)
	}
	var up [][]byte
	for i := range 200 {
		g := make([]byte, 240) // 30 ms
		codec.PCMA.Encode(g, sine(1000, i*240, 240))
		b, _ := (&pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 8, SequenceNumber: uint16(2 * i), Timestamp: uint32(i * 240), SSRC: 9}, Payload: g}).Marshal()
		up = append(up, b)
	}
	for _, tt := range []struct {
		name     string
		from, to sdp.Codec
		fromEv   sdp.Codec
		toEv     sdp.Codec
		pkts     [][]byte
	}{
		{"opus to PCMU", opusCodec, pcmuCodec, opusEvent, g711Event, down},
		{"PCMA to opus", pcmaCodec, opusCodec, g711Event, opusEvent, up},
		{"PCMA to PCMU", pcmaCodec, pcmuCodec, g711Event, g711Event, up},
	} {
		tr, err := newTranscoder(tt.from, &tt.fromEv, tt.to, &tt.toEv, 20, codec.DefaultOpusConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, rtp.MaxPacket)
		var h pionrtp.Header
		i, sent := 0, 0
		step := func() {
			pkt := tt.pkts[i%len(tt.pkts)]
			i++
			if _, err := h.Unmarshal(pkt); err != nil {
				t.Fatal(err)
			}
			for n := tr.Process(out, pkt, &h); n > 0; n = tr.Next(out) {
				sent++
			}
		}
		for range 20 { // warm up
			step()
		}
		if allocs := testing.AllocsPerRun(len(tt.pkts)-20, step); allocs != 0 || sent == 0 {
			t.Errorf("%s: %.1f allocs a packet (%d sent), want 0", tt.name, allocs, sent)
		}
	}
}

// TestPacketTimeThroughTheRelay: over real sockets, a browser's Opus with
// loss and a digit reaches a carrier that asked for 30 ms (a=ptime:30 in
// its answer) as 30 ms PCMA packets, one sequence number apart.
func TestPacketTimeThroughTheRelay(t *testing.T) {
	c := newTranscodeCallPtime(t, opusOffer, "PCMA", 126, 30)
	s := newBrowserStream(t, 150, map[int]int{60: 5}, 100, 5000)
	for i, p := range s.pkts {
		if s.audio[i] && i%10 == 4 {
			continue // 10 % lost
		}
		p.PayloadType = map[bool]uint8{true: 111, false: 110}[s.audio[i]]
		c.app.send(t, c.appTo, p.Header, p.Payload)
		time.Sleep(time.Millisecond)
	}
	var out []sent
	for _, p := range c.carrier.recv(t, 500*time.Millisecond) {
		out = append(out, sent{Packet: p})
	}
	audio, digits := checkSequence(t, out, 8, 126, 240, g711Dur)
	// 150 frames less the 5 the digit took, in 30 ms packets; the one
	// part full when the digit came is padded.
	if want := (150 - 5) * 20 / 30; digits != 1 || audio < want || audio > want+1 {
		t.Errorf("%d audio packets and %d digits, want %d and 1", audio, digits, want)
	}
}
