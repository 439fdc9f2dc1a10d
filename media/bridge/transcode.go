package bridge

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/media/codec"
	"github.com/dialtone/dialtone/media/rtp"
	"github.com/dialtone/dialtone/media/sdp"
)

// converter turns one packet's audio payload into the other leg's codec.
// codec.OpusToG711, codec.G711ToOpus and lawToLaw are converters.
// Transcode returns the first packet's worth it completes (G.711 toward a
// packetizer, or one Opus packet), Next the others. Event tells it that a
// sequence number went to a telephone-event starting at ts, not to audio;
// it may return audio concealed up to ts.
type converter interface {
	Transcode(dst []byte, seq uint16, ts uint32, payload []byte) (n int, outTS uint32, err error)
	Next(dst []byte) (n int, outTS uint32, err error)
	Event(dst []byte, seq uint16, ts uint32) (n int, outTS uint32, err error)
	Reset(tl codec.Timeline)
}

// lossReporter is a leg that learns, from RTCP receiver reports, how much
// of what we send it is lost (a WebRTC peer).
type lossReporter interface {
	FractionLost() uint8
}

// lossCheckEvery is how many packets pass between looks at the receiver's
// reported loss: about a second of 20 ms packets, as often as RTCP reports
// come (RFC 3550 section 6.2).
const lossCheckEvery = 50

// DefaultPtime is the packet time, in milliseconds, of the audio the
// switch sends when it transcodes and the receiver's SDP names none (RFC
// 3551 section 4.5.14's default for G.711; 20 ms Opus, as browsers send).
const DefaultPtime = 20

// packetTime is the packet time to send a receiver whose SDP said ptime
// (0 when it said none): 10, 20, 30, 40, 50 or 60 ms toward G.711, 10,
// 20, 40 or 60 ms toward Opus (its frame sizes); DefaultPtime otherwise.
func packetTime(ptime int, opus bool) int {
	switch {
	case ptime < 10 || ptime > 60 || ptime%10 != 0, opus && (ptime == 30 || ptime == 50):
		return DefaultPtime
	}
	return ptime
}

// transcoder is the rtp.Processor of one direction whose legs carry
// different codecs: it converts the source leg's audio payload type and
// translates its telephone-events (RFC 4733) to the destination leg's
// clock, and drops every other payload type (comfort noise, redundancy).
//
// The packets it sends are its own stream (RFC 3550 section 7.2: a
// translator that changes the payload is a new source): one SSRC for the
// call, sequence numbers that go up by one for every packet sent, audio
// and events alike, and timestamps on the destination clock mapped from
// the source's sampling instants. A new source SSRC (the peer restarted
// its stream) keeps the outgoing stream continuous.
//
// Audio goes out in packets of exactly the receiver's packet time (its
// SDP's a=ptime, else 20 ms), whatever the source's packets lasted:
// samples wait in a codec.Packetizer until they fill a packet (G.711
// after conversion; Opus before encoding, in codec.G711ToOpus). Audio
// made up for lost Opus packets (FEC, PLC) goes out in packets of its
// own, in the sequence, so the receiver sees no loss; each packet's
// timestamp is its predecessor's plus its duration. Where the audio has a
// gap the transcoder did not fill (a telephone-event sent in place of
// audio, DTX, a loss longer than the concealment or not concealed, as
// toward Opus), the timestamps jump and the first packet after the gap
// has the marker bit, as the first packet of a talkspurt (RFC 3551
// section 4.1); a packet that was part full at the gap goes out padded
// with silence. Telephone-events keep their source's marker bit, which
// marks the first packet of an event (RFC 4733 section 2.5.1.1).
//
// Nothing here re-times packets: each goes out as soon as it is made, so a
// packet and the packets concealed before it leave back to back.
type transcoder struct {
	srcAudio, srcEvent int // payload types on the source leg; -1 for none
	dstAudio, dstEvent uint8
	srcRate, dstRate   int
	conv               converter
	events             bool                   // translate telephone-events; else drop them
	ev                 *codec.EventTranslator // between 8000 and 48000; nil between equal clocks

	// Opus FEC follows the loss the receiver reports, when it reports.
	enc       *codec.G711ToOpus
	loss      lossReporter
	lossFloor int
	lossSet   int
	packets   int

	started bool
	srcSSRC uint32
	ssrc    uint32
	seq     uint16 // sequence number of the next packet sent
	nextTS  uint32 // destination timestamp just past the audio taken in
	mark    bool   // the next audio packet starts a talkspurt
	tl      codec.Timeline

	pk      *codec.Packetizer[byte] // toward G.711; nil toward Opus
	opusDur uint32                  // toward Opus: a packet's duration in 48 kHz ticks
	scratch [codec.MaxPayload]byte

	// A telephone-event waiting behind audio concealed before it.
	evBuf    [rtp.MaxPacket]byte
	evLen    int
	evTS     uint32
	evMarker bool
}

var _ rtp.Processor = (*transcoder)(nil)

// newTranscoder converts from (the source leg's audio and telephone-event,
// srcEvent nil when it has none) to the destination leg's, whose receiver
// asked for packets of ptime milliseconds (0: it did not say).
func newTranscoder(from sdp.Codec, srcEvent *sdp.Codec, to sdp.Codec, dstEvent *sdp.Codec, ptime int, opus codec.OpusConfig, loss lossReporter) (*transcoder, error) {
	t := &transcoder{
		srcAudio: int(from.PT), srcEvent: -1, dstAudio: to.PT,
		srcRate: from.Clock, dstRate: to.Clock,
		ssrc: rand.Uint32(),
	}
	if srcEvent != nil && dstEvent != nil && srcEvent.Clock == from.Clock && dstEvent.Clock == to.Clock {
		t.srcEvent, t.dstEvent, t.events = int(srcEvent.PT), dstEvent.PT, true
	}
	tl, err := codec.NewTimeline(from.Clock, to.Clock, 0, 0)
	if err != nil {
		return nil, err
	}
	if t.events && from.Clock != to.Clock {
		if t.ev, err = codec.NewEventTranslator(tl); err != nil {
			return nil, err
		}
	}
	fromLaw, fromG711 := law(from)
	toLaw, toG711 := law(to)
	if toG711 {
		if t.pk, err = codec.NewPacketizer(packetTime(ptime, false)*8, codec.MaxPayload, toLaw.Silence()); err != nil {
			return nil, err
		}
	}
	switch {
	case from.Is("opus", 48000) && toG711:
		c, err := codec.NewOpusToG711(toLaw, tl)
		if err != nil {
			return nil, err
		}
		t.conv = c
	case fromG711 && to.Is("opus", 48000):
		c, err := codec.NewG711ToOpus(fromLaw, tl, opus)
		if err != nil {
			return nil, err
		}
		if err := c.SetFrame(packetTime(ptime, true) * 8); err != nil {
			return nil, err
		}
		t.conv, t.enc, t.loss, t.lossFloor, t.lossSet = c, c, loss, opus.PacketLoss, opus.PacketLoss
		t.opusDur = uint32(c.Frame() * 6)
	case fromG711 && toG711:
		t.conv = &lawToLaw{from: fromLaw, to: toLaw}
	default:
		return nil, fmt.Errorf("transcode %s to %s: %w", from, to, codec.ErrClockRate)
	}
	return t, nil
}

// law maps a G.711 codec to its companding law.
func law(c sdp.Codec) (codec.Law, bool) {
	switch {
	case c.Is("PCMU", 8000):
		return codec.PCMU, true
	case c.Is("PCMA", 8000):
		return codec.PCMA, true
	}
	return 0, false
}

// Process implements rtp.Processor.
func (t *transcoder) Process(out, pkt []byte, h *pionrtp.Header) int {
	payload, ok := rtpPayload(pkt)
	if !ok || len(out) < rtp.MaxPacket {
		return 0
	}
	audio := int(h.PayloadType) == t.srcAudio
	if !audio && (!t.events || int(h.PayloadType) != t.srcEvent) {
		return 0 // comfort noise, redundancy or a type never negotiated
	}
	if !t.started || h.SSRC != t.srcSSRC {
		t.restart(h)
	}
	if !audio {
		n, ts, err := t.translateEvent(t.evBuf[:], h.Timestamp, payload)
		if err != nil {
			return 0 // malformed: dropped
		}
		t.evLen, t.evTS, t.evMarker = n, ts, h.Marker
		if g, gts, err := t.conv.Event(t.scratch[:], h.SequenceNumber, h.Timestamp); err == nil && g > 0 && t.pk != nil {
			t.pk.Push(t.scratch[:g], gts) // at most MaxPayload: no error
			t.nextTS = t.pk.Next()
		}
		return t.Next(out)
	}
	t.tuneFEC()
	if t.pk == nil {
		n, ts, err := t.conv.Transcode(out[12:], h.SequenceNumber, h.Timestamp, payload)
		if err != nil || n == 0 {
			// Late, duplicate or malformed: dropped, and the receiver
			// conceals the time it lacks. Or waiting for a whole frame.
			return 0
		}
		return t.opusPacket(out, n, ts)
	}
	n, ts, err := t.conv.Transcode(t.scratch[:], h.SequenceNumber, h.Timestamp, payload)
	if err != nil || t.pk.Push(t.scratch[:n], ts) != nil {
		return 0
	}
	t.nextTS = t.pk.Next()
	return t.Next(out)
}

// Next implements rtp.Processor: the next whole packet of audio, then a
// waiting telephone-event.
func (t *transcoder) Next(out []byte) int {
	if len(out) < rtp.MaxPacket {
		return 0
	}
	if t.pk != nil {
		if g, ts, start, ok := t.pk.Pop(); ok {
			return t.header(out, t.dstAudio, start, ts) + copy(out[12:], g)
		}
	} else if n, ts, err := t.conv.Next(out[12:]); err == nil && n > 0 {
		return t.opusPacket(out, n, ts)
	}
	if t.evLen > 0 {
		n := copy(out[12:], t.evBuf[:t.evLen])
		t.evLen = 0
		return t.header(out, t.dstEvent, t.evMarker, t.evTS) + n
	}
	return 0
}

// opusPacket heads the Opus packet of n bytes in out[12:] with timestamp
// ts: the marker bit when it does not follow on from the audio before.
func (t *transcoder) opusPacket(out []byte, n int, ts uint32) int {
	if ts != t.nextTS {
		t.mark = true
	}
	t.nextTS = ts + t.opusDur
	m := t.mark
	t.mark = false
	return t.header(out, t.dstAudio, m, ts) + n
}

// header writes the RTP header of our next packet into out and returns
// its length.
func (t *transcoder) header(out []byte, pt uint8, marker bool, ts uint32) int {
	out[0] = 0x80 // version 2, no padding, extension or CSRC
	out[1] = pt
	if marker {
		out[1] |= 0x80
	}
	binary.BigEndian.PutUint16(out[2:], t.seq)
	binary.BigEndian.PutUint32(out[4:], ts)
	binary.BigEndian.PutUint32(out[8:], t.ssrc)
	t.seq++
	return 12
}

// restart anchors a new source stream: its first timestamp lands just
// after the audio taken in so far, so our stream goes on unbroken. The
// first source starts our stream at a random timestamp and sequence
// number (RFC 3550 section 5.1), with the marker bit.
func (t *transcoder) restart(h *pionrtp.Header) {
	if !t.started {
		t.nextTS, t.seq, t.mark = rand.Uint32(), uint16(rand.Uint32()), true
	}
	t.tl, _ = codec.NewTimeline(t.srcRate, t.dstRate, h.Timestamp, t.nextTS) // rates checked in newTranscoder
	t.conv.Reset(t.tl)
	if t.ev != nil {
		t.ev.Reset(t.tl)
	}
	t.srcSSRC, t.started = h.SSRC, true
}

// translateEvent carries a telephone-event payload to the destination
// clock: codec.EventTranslator between 8000 and 48000, the timestamp alone
// between two 8000 Hz legs.
func (t *transcoder) translateEvent(dst []byte, ts uint32, payload []byte) (int, uint32, error) {
	if t.ev != nil {
		return t.ev.Translate(dst, ts, payload)
	}
	if len(payload) == 0 || len(payload)%codec.EventSize != 0 || len(dst) < len(payload) {
		return 0, 0, codec.ErrEvent
	}
	return copy(dst, payload), t.tl.Map(ts), nil
}

// tuneFEC raises the Opus encoder's expected loss, and so its in-band FEC,
// to what the receiver reports, never below the configured floor.
func (t *transcoder) tuneFEC() {
	if t.enc == nil || t.loss == nil {
		return
	}
	if t.packets++; t.packets%lossCheckEvery != 0 {
		return
	}
	pct := max(t.lossFloor, int(t.loss.FractionLost())*100/256)
	if pct != t.lossSet && t.enc.SetPacketLoss(pct) == nil {
		t.lossSet = pct
	}
}

// rtpPayload is the payload of a valid RTP packet: after the CSRCs and the
// header extension, before the padding (RFC 3550 section 5.1).
func rtpPayload(pkt []byte) ([]byte, bool) {
	if len(pkt) < 12 {
		return nil, false
	}
	hdr := 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 {
		if len(pkt) < hdr+4 {
			return nil, false
		}
		hdr += 4 + 4*int(binary.BigEndian.Uint16(pkt[hdr+2:]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 {
		end -= int(pkt[end-1])
	}
	if hdr > end {
		return nil, false
	}
	return pkt[hdr:end], true
}

// lawToLaw converts between PCMU and PCMA through linear samples.
type lawToLaw struct {
	from, to codec.Law
	tl       codec.Timeline
	pcm      [rtp.MaxPacket]int16
}

func (c *lawToLaw) Reset(tl codec.Timeline) { c.tl = tl }

func (c *lawToLaw) Next([]byte) (int, uint32, error) { return 0, 0, nil }

func (c *lawToLaw) Event([]byte, uint16, uint32) (int, uint32, error) { return 0, 0, nil }

func (c *lawToLaw) Transcode(dst []byte, _ uint16, ts uint32, payload []byte) (int, uint32, error) {
	if len(payload) > len(c.pcm) || len(dst) < len(payload) {
		return 0, 0, fmt.Errorf("transcode %s to %s: %w", c.from, c.to, codec.ErrShortBuffer)
	}
	pcm := c.pcm[:len(payload)]
	if _, err := c.from.Decode(pcm, payload); err != nil {
		return 0, 0, err
	}
	n, err := c.to.Encode(dst, pcm)
	return n, c.tl.Map(ts), err
}
