package bridge

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/media/codec"
	"github.com/dialtone/dialtone/media/codec/tonetest"
	"github.com/dialtone/dialtone/media/sdp"
)

// A softphone offering Opus first over plain RTP, like a browser without
// the encryption: telephone-events at both clocks.
const opusOffer = "v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio %d RTP/AVP 111 0 8 110 126\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n"

const carrierAnswer = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio %d RTP/AVP %d %d\r\na=rtpmap:%d %s/8000\r\na=rtpmap:%d telephone-event/8000\r\n"

// endpoint is a peer of the test: a UDP socket sending and receiving RTP.
type endpoint struct {
	conn *net.UDPConn
}

func newEndpoint(t *testing.T) *endpoint {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &endpoint{conn: c}
}

func (e *endpoint) port() int { return e.conn.LocalAddr().(*net.UDPAddr).Port }

func (e *endpoint) send(t *testing.T, to netip.AddrPort, h pionrtp.Header, payload []byte) {
	t.Helper()
	p := pionrtp.Packet{Header: h, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

// recv returns the packets that arrive within d.
func (e *endpoint) recv(t *testing.T, d time.Duration) []pionrtp.Packet {
	t.Helper()
	var out []pionrtp.Packet
	buf := make([]byte, 1600)
	deadline := time.Now().Add(d)
	for {
		e.conn.SetReadDeadline(deadline)
		n, err := e.conn.Read(buf)
		if err != nil {
			return out
		}
		var p pionrtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			t.Fatalf("the relay sent a packet that does not parse: %v", err)
		}
		out = append(out, p)
	}
}

func sine(freq float64, start, n int) []int16 { return tonetest.Sine(freq, 8000, 8000, start, n) }

func toneSNR(x []int16, freq float64) float64 { return tonetest.SNR(x, freq, 8000) }

type transcodeCall struct {
	b            *Bridge
	app, carrier *endpoint
	appTo        netip.AddrPort // the bridge's app-leg port
	carrierTo    netip.AddrPort // the bridge's carrier-leg port
}

// newTranscodeCall sets up a call whose app offers offer (a format with the
// app's port) and whose carrier answers codec with telephone-event ePT.
func newTranscodeCall(t *testing.T, offer, carrierCodec string, ePT int) *transcodeCall {
	t.Helper()
	return newTranscodeCallPtime(t, offer, carrierCodec, ePT, 0)
}

// newTranscodeCallPtime is newTranscodeCall with a=ptime:ptime in the
// carrier's answer (none for 0).
func newTranscodeCallPtime(t *testing.T, offer, carrierCodec string, ePT, ptime int) *transcodeCall {
	t.Helper()
	f := newFactory(t)
	app, carrier := newEndpoint(t), newEndpoint(t)
	b, err := f.New(context.Background(), "call-t", fmt.Appendf(nil, offer, app.port()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	co, err := b.CarrierOffer([]string{"PCMU", "PCMA"})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := sdp.Parse(co)
	pt := 0
	if carrierCodec == "PCMA" {
		pt = 8
	}
	answer := fmt.Appendf(nil, carrierAnswer, carrier.port(), pt, ePT, pt, carrierCodec, ePT)
	if ptime != 0 {
		answer = fmt.Appendf(answer, "a=ptime:%d\r\n", ptime)
	}
	if err := b.SetCarrierAnswer(answer); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AppAnswer(); err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	return &transcodeCall{b: b, app: app, carrier: carrier,
		appTo:     netip.AddrPortFrom(lo, uint16(b.relay.A().Port())),
		carrierTo: netip.AddrPortFrom(lo, o.Addr.Port())}
}

// TestOpusToG711AndBack carries a 700 Hz tone from an Opus app to a PCMU
// carrier and a 1000 Hz tone back, with DTMF both ways.
func TestOpusToG711AndBack(t *testing.T) {
	// The carrier is offered the app's telephone-event/8000 payload type, 126.
	c := newTranscodeCall(t, opusOffer, "PCMU", 126)
	if app, carrier := c.b.Codecs(); app != "opus" || carrier != "PCMU" || !c.b.Transcoding() {
		t.Fatalf("Codecs() = %s/%s, transcoding %v; want opus/PCMU, true", app, carrier, c.b.Transcoding())
	}
	enc, err := codec.NewOpusEncoder(codec.DefaultOpusConfig())
	if err != nil {
		t.Fatal(err)
	}
	opus := make([]byte, 400)
	const frames = 50
	for i := range frames {
		n, err := enc.Encode(opus, sine(700, i*160, 160))
		if err != nil {
			t.Fatal(err)
		}
		c.app.send(t, c.appTo, pionrtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(1000 + i), Timestamp: uint32(5000 + 960*i), SSRC: 0xA1}, opus[:n])
		// The carrier answers each packet with a 20 ms of 1000 Hz in PCMU.
		pcmu := make([]byte, 160)
		codec.PCMU.Encode(pcmu, sine(1000, i*160, 160))
		c.carrier.send(t, c.carrierTo, pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(7 + i), Timestamp: uint32(160 * i), SSRC: 0xC1}, pcmu)
		time.Sleep(2 * time.Millisecond)
	}
	// DTMF 5 from the app at 48000 Hz: 100 ms = 4800 ticks.
	ev := []byte{5, 0x80 | 10, 0, 0}
	binary.BigEndian.PutUint16(ev[2:], 4800)
	c.app.send(t, c.appTo, pionrtp.Header{Version: 2, PayloadType: 110, Marker: true, SequenceNumber: 1000 + frames, Timestamp: 5000 + 960*frames, SSRC: 0xA1}, ev)
	// DTMF 9 from the carrier at 8000 Hz: 100 ms = 800 ticks.
	ev2 := []byte{9, 0x80 | 10, 0, 0}
	binary.BigEndian.PutUint16(ev2[2:], 800)
	c.carrier.send(t, c.carrierTo, pionrtp.Header{Version: 2, PayloadType: 126, Marker: true, SequenceNumber: 7 + frames, Timestamp: 160 * frames, SSRC: 0xC1}, ev2)

	atCarrier := c.carrier.recv(t, 500*time.Millisecond)
	atApp := c.app.recv(t, 100*time.Millisecond)

	var pcm []int16
	var events []pionrtp.Packet
	for i, p := range atCarrier {
		switch p.PayloadType {
		case 0:
			if i > 0 && p.PayloadType == atCarrier[i-1].PayloadType && p.Timestamp-atCarrier[i-1].Timestamp != 160 {
				t.Errorf("carrier packet %d: timestamp step %d, want 160", i, p.Timestamp-atCarrier[i-1].Timestamp)
			}
			s := make([]int16, len(p.Payload))
			codec.PCMU.Decode(s, p.Payload)
			pcm = append(pcm, s...)
		case 126:
			events = append(events, p)
		default:
			t.Errorf("carrier got payload type %d", p.PayloadType)
		}
		if p.SSRC != atCarrier[0].SSRC || p.SSRC == 0xA1 {
			t.Errorf("carrier packet %d SSRC %x: want one SSRC of the switch's own", i, p.SSRC)
		}
	}
	if len(pcm) < 40*160 {
		t.Fatalf("carrier got %d samples of PCMU, want about %d", len(pcm), frames*160)
	}
	if snr := toneSNR(pcm[1600:], 700); snr < 10 {
		t.Errorf("700 Hz at the carrier: SNR %.1f dB, want >= 10", snr)
	}
	if len(events) != 1 || events[0].Payload[0] != 5 || binary.BigEndian.Uint16(events[0].Payload[2:]) != 800 || !events[0].Marker {
		t.Errorf("carrier events = %v, want digit 5 lasting 800 ticks with the marker", events)
	}

	dec, err := codec.NewOpusDecoder()
	if err != nil {
		t.Fatal(err)
	}
	pcm = pcm[:0]
	var appEvents []pionrtp.Packet
	for _, p := range atApp {
		switch p.PayloadType {
		case 111:
			s := make([]int16, 960)
			n, err := dec.Decode(s, p.Payload)
			if err != nil {
				t.Fatalf("the app got Opus that does not decode: %v", err)
			}
			pcm = append(pcm, s[:n]...)
		case 110:
			appEvents = append(appEvents, p)
		default:
			t.Errorf("app got payload type %d", p.PayloadType)
		}
	}
	if len(pcm) < 40*160 {
		t.Fatalf("app got %d samples of Opus, want about %d", len(pcm), frames*160)
	}
	if snr := toneSNR(pcm[1600:], 1000); snr < 10 {
		t.Errorf("1000 Hz at the app: SNR %.1f dB, want >= 10", snr)
	}
	if len(appEvents) != 1 || appEvents[0].Payload[0] != 9 || binary.BigEndian.Uint16(appEvents[0].Payload[2:]) != 4800 {
		t.Errorf("app events = %v, want digit 9 lasting 4800 ticks", appEvents)
	}
}

// When the app offers PCMU first and the carrier takes it, packets pass
// through byte for byte, telephone-events included.
func TestSharedCodecPassesThrough(t *testing.T) {
	offer := strings.Replace(opusOffer, "RTP/AVP 111 0 8 110 126", "RTP/AVP 0 126", 1)
	c := newTranscodeCall(t, offer, "PCMU", 126)
	if app, carrier := c.b.Codecs(); app != "PCMU" || carrier != "PCMU" || c.b.Transcoding() {
		t.Fatalf("Codecs() = %s/%s, transcoding %v; want PCMU/PCMU, false", app, carrier, c.b.Transcoding())
	}
	payload := bytes.Repeat([]byte{0x55}, 160)
	c.app.send(t, c.appTo, pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 9, Timestamp: 99, SSRC: 0xAB}, payload)
	c.app.send(t, c.appTo, pionrtp.Header{Version: 2, PayloadType: 126, SequenceNumber: 10, Timestamp: 99, SSRC: 0xAB}, []byte{1, 10, 0, 160})
	got := c.carrier.recv(t, 300*time.Millisecond)
	if len(got) != 2 || got[0].SSRC != 0xAB || got[0].SequenceNumber != 9 || !bytes.Equal(got[0].Payload, payload) || got[1].PayloadType != 126 {
		t.Fatalf("carrier got %v, want the app's two packets unchanged", got)
	}
}

// TestAnswerAfterEarlyMedia: the carrier's 200 repeats the codec of its
// 183, and the relay keeps its transcoders (their SSRC, numbering and
// Opus encoder state); a 200 with another codec gets new ones.
func TestAnswerAfterEarlyMedia(t *testing.T) {
	c := newTranscodeCall(t, opusOffer, "PCMU", 126) // the 183, then the app's answer
	early := c.b.transcoders
	if early[0] == nil {
		t.Fatal("no transcoders after the 183")
	}
	if err := c.b.SetCarrierAnswer(fmt.Appendf(nil, carrierAnswer, c.carrier.port(), 0, 126, 0, "PCMU", 126)); err != nil {
		t.Fatal(err)
	}
	if c.b.transcoders != early {
		t.Error("the 200 with the 183's codec replaced the transcoders")
	}
	if err := c.b.SetCarrierAnswer(fmt.Appendf(nil, carrierAnswer, c.carrier.port(), 8, 126, 8, "PCMA", 126)); err != nil {
		t.Fatal(err)
	}
	if _, carrier := c.b.Codecs(); carrier != "PCMA" || c.b.transcoders == early || c.b.transcoders[0] == nil {
		t.Errorf("after a 200 with PCMA: carrier codec %s, transcoders replaced %v; want PCMA, new ones", carrier, c.b.transcoders != early)
	}
}

// A PCMA-only softphone reaches a PCMU carrier through G.711 law
// conversion.
func TestLawConversion(t *testing.T) {
	offer := strings.Replace(opusOffer, "RTP/AVP 111 0 8 110 126", "RTP/AVP 8 126", 1)
	c := newTranscodeCall(t, offer, "PCMU", 126)
	if app, carrier := c.b.Codecs(); app != "PCMA" || carrier != "PCMU" || !c.b.Transcoding() {
		t.Fatalf("Codecs() = %s/%s, transcoding %v; want PCMA/PCMU, true", app, carrier, c.b.Transcoding())
	}
	var pcm []int16
	for i := range 20 {
		pcma := make([]byte, 160)
		codec.PCMA.Encode(pcma, sine(700, i*160, 160))
		c.app.send(t, c.appTo, pionrtp.Header{Version: 2, PayloadType: 8, SequenceNumber: uint16(i), Timestamp: uint32(160 * i), SSRC: 1}, pcma)
	}
	for _, p := range c.carrier.recv(t, 300*time.Millisecond) {
		if p.PayloadType != 0 {
			t.Fatalf("carrier got payload type %d, want 0", p.PayloadType)
		}
		s := make([]int16, len(p.Payload))
		codec.PCMU.Decode(s, p.Payload)
		pcm = append(pcm, s...)
	}
	if len(pcm) != 20*160 || toneSNR(pcm, 700) < 20 {
		t.Errorf("carrier got %d samples, 700 Hz SNR %.1f dB; want 3200 and >= 20", len(pcm), toneSNR(pcm, 700))
	}
}

// Comfort noise and payload types never negotiated are not sent on when
// transcoding; a malformed Opus payload is dropped and the call goes on.
func TestTranscoderDropsWhatItCannotCarry(t *testing.T) {
	c := newTranscodeCall(t, opusOffer, "PCMA", 101)
	c.app.send(t, c.appTo, pionrtp.Header{Version: 2, PayloadType: 13, SequenceNumber: 1, Timestamp: 0, SSRC: 2}, []byte{40})
	c.app.send(t, c.appTo, pionrtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 2, Timestamp: 960, SSRC: 2}, []byte{0xff, 0xff, 0xff})
	enc, _ := codec.NewOpusEncoder(codec.DefaultOpusConfig())
	opus := make([]byte, 400)
	n, _ := enc.Encode(opus, sine(700, 0, 160))
	c.app.send(t, c.appTo, pionrtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 3, Timestamp: 1920, SSRC: 2}, opus[:n])
	got := c.carrier.recv(t, 300*time.Millisecond)
	if len(got) != 1 || got[0].PayloadType != 8 || len(got[0].Payload) < 160 {
		t.Fatalf("carrier got %d packets %v, want one PCMA packet", len(got), got)
	}
}
