package bridge

import (
	"math/rand/v2"
	"testing"

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
			checkG711Stream(t, out, in, law.PT, 160, s.starts)
		})
	}
}

// checkG711Stream checks what a transcoder sent a G.711 leg from the Opus
// stream in: every audio packet frame bytes long, one SSRC, sequence
// numbers one apart, audio timestamps frame apart except where a digit
// took the time, and there the next audio packet has the marker; events
// well-formed, one digit at each of starts.
func checkG711Stream(t *testing.T, out []sent, in []pionrtp.Packet, pt uint8, frame int, starts []uint32) {
	t.Helper()
	if len(out) == 0 {
		t.Fatal("nothing sent")
	}
	// The Opus stream's start maps onto the G.711 stream's first timestamp.
	base := out[0].Timestamp - (in[out[0].from].Timestamp-in[0].Timestamp)/6
	var lastAudio *sent
	var audioPkts, eventPkts int
	type digit struct {
		ts      uint32
		pkts    int
		lastDur uint16
		ended   bool
	}
	var digits []*digit
	for i := range out {
		p := &out[i]
		if p.Version != 2 || p.Padding || p.Extension || len(p.CSRC) != 0 {
			t.Fatalf("packet %d: header %+v, want plain RTP v2", i, p.Header)
		}
		if p.SSRC != out[0].SSRC {
			t.Fatalf("packet %d: SSRC %x, want %x throughout", i, p.SSRC, out[0].SSRC)
		}
		if i > 0 && p.SequenceNumber != out[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: sequence number %d after %d, want +1", i, p.SequenceNumber, out[i-1].SequenceNumber)
		}
		switch p.PayloadType {
		case pt:
			audioPkts++
			if len(p.Payload) != frame {
				t.Fatalf("audio packet %d (from source %d): %d bytes, want %d", i, p.from, len(p.Payload), frame)
			}
			switch {
			case lastAudio == nil:
				if !p.Marker {
					t.Errorf("first audio packet has no marker bit")
				}
			case p.Timestamp == lastAudio.Timestamp+uint32(frame):
				if p.Marker {
					t.Errorf("audio packet %d (ts %d): marker bit inside a talkspurt", i, p.Timestamp)
				}
			default:
				// Only a digit may take the time between audio packets:
				// the audio resumes where the digit ended.
				if len(digits) == 0 || lastAudio.Timestamp >= digits[len(digits)-1].ts {
					t.Fatalf("audio packet %d (from source %d): timestamp %d after %d, want +%d", i, p.from, p.Timestamp, lastAudio.Timestamp, frame)
				}
				d := digits[len(digits)-1]
				if want := d.ts + uint32(d.lastDur); p.Timestamp != want {
					t.Errorf("audio after the digit at %d: timestamp %d, want %d (its end)", d.ts, p.Timestamp, want)
				}
				if !p.Marker {
					t.Errorf("audio packet %d after a digit has no marker bit", i)
				}
			}
			lastAudio = p
		case g711Event.PT:
			eventPkts++
			ev, err := codec.ParseEvent(p.Payload)
			if err != nil {
				t.Fatalf("event packet %d: %v", i, err)
			}
			var d *digit
			if len(digits) > 0 && digits[len(digits)-1].ts == p.Timestamp {
				d = digits[len(digits)-1]
			} else {
				if !p.Marker {
					t.Errorf("event packet %d: first of its digit without the marker bit", i)
				}
				if lastAudio != nil && p.Timestamp != lastAudio.Timestamp+uint32(frame) {
					t.Errorf("digit at %d: want it where the audio stopped, %d", p.Timestamp, lastAudio.Timestamp+uint32(frame))
				}
				d = &digit{ts: p.Timestamp}
				digits = append(digits, d)
			}
			if d.pkts > 0 && p.Marker {
				t.Errorf("event packet %d: marker bit inside a digit", i)
			}
			if ev.Duration < d.lastDur || ev.Duration == 0 || (d.ended && !ev.End) {
				t.Errorf("event packet %d: %+v after duration %d (ended %v)", i, ev, d.lastDur, d.ended)
			}
			d.pkts++
			d.lastDur, d.ended = ev.Duration, ev.End
		default:
			t.Fatalf("packet %d: payload type %d", i, p.PayloadType)
		}
	}
	if len(digits) != len(starts) {
		t.Fatalf("%d digits sent, want %d", len(digits), len(starts))
	}
	for k, d := range digits {
		if want := base + (starts[k]-in[0].Timestamp)/6; d.ts != want {
			t.Errorf("digit %d: timestamp %d, want %d", k, d.ts, want)
		}
		if !d.ended || d.lastDur%160 != 0 {
			t.Errorf("digit %d: ended %v, duration %d; want ended, whole 20 ms", k, d.ended, d.lastDur)
		}
	}
	// Every 20 ms of the call not taken by a digit went out as audio.
	last := in[len(in)-1].Timestamp
	span := int((last-in[0].Timestamp)/960) + 1
	var digitFrames int
	for _, d := range digits {
		digitFrames += int(d.lastDur) / frame
	}
	if want := span - digitFrames; audioPkts != want {
		t.Errorf("%d audio packets, want %d (every 20 ms outside the digits)", audioPkts, want)
	}
	// Each talkspurt is the tone, concealment included, in order.
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
	t.Logf("%d packets: %d audio, %d events", len(out), audioPkts, eventPkts)
}
