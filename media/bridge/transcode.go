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
type converter interface {
	Transcode(dst []byte, seq uint16, ts uint32, payload []byte) (n int, outTS uint32, err error)
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

// transcoder is the rtp.Processor of one direction whose legs carry
// different codecs: it converts the source leg's audio payload type and
// translates its telephone-events (RFC 4733) to the destination leg's
// clock, and drops every other payload type (comfort noise, redundancy).
//
// The packets it sends are its own stream (RFC 3550 section 7.2: a
// translator that changes the payload is a new source): one SSRC for the
// call, timestamps on the destination clock mapped from the source's
// sampling instants, and sequence numbers that follow the source's, so a
// packet lost before the relay is a gap the receiver sees and conceals. A
// new source SSRC (the peer restarted its stream) keeps the outgoing
// stream continuous. Nothing here re-times packets: each goes out as soon
// as it is converted.
type transcoder struct {
	srcAudio, srcEvent int // payload types on the source leg; -1 for none
	dstAudio, dstEvent uint8
	srcRate, dstRate   int
	dstSamples         func(in, out int) int // output's duration in destination ticks, from payload sizes
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
	seqOff  uint16
	lastSeq uint16
	nextTS  uint32 // destination timestamp just past the newest audio sent
	tl      codec.Timeline
}

var _ rtp.Processor = (*transcoder)(nil)

// newTranscoder converts from (the source leg's audio and telephone-event,
// srcEvent nil when it has none) to the destination leg's.
func newTranscoder(from sdp.Codec, srcEvent *sdp.Codec, to sdp.Codec, dstEvent *sdp.Codec, opus codec.OpusConfig, loss lossReporter) (*transcoder, error) {
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
	switch {
	case from.Is("opus", 48000) && toG711:
		c, err := codec.NewOpusToG711(toLaw, tl)
		if err != nil {
			return nil, err
		}
		t.conv = c
		t.dstSamples = func(_, out int) int { return out }
	case fromG711 && to.Is("opus", 48000):
		c, err := codec.NewG711ToOpus(fromLaw, tl, opus)
		if err != nil {
			return nil, err
		}
		t.conv, t.enc, t.loss, t.lossFloor, t.lossSet = c, c, loss, opus.PacketLoss, opus.PacketLoss
		t.dstSamples = func(in, _ int) int { return in * 6 }
	case fromG711 && toG711:
		t.conv = &lawToLaw{from: fromLaw, to: toLaw}
		t.dstSamples = func(_, out int) int { return out }
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
	if !ok || len(out) < 12 {
		return 0
	}
	audio := int(h.PayloadType) == t.srcAudio
	if !audio && (!t.events || int(h.PayloadType) != t.srcEvent) {
		return 0 // comfort noise, redundancy or a type never negotiated
	}
	if !t.started || h.SSRC != t.srcSSRC {
		t.restart(h)
	}
	var n int
	var ts uint32
	var err error
	pt := t.dstAudio
	if audio {
		t.tuneFEC()
		n, ts, err = t.conv.Transcode(out[12:], h.SequenceNumber, h.Timestamp, payload)
	} else {
		pt = t.dstEvent
		n, ts, err = t.translateEvent(out[12:], h.Timestamp, payload)
	}
	if err != nil {
		// Late, duplicate or malformed: dropped; the receiver sees the gap
		// in sequence numbers as loss and conceals it.
		return 0
	}
	if audio {
		t.nextTS = ts + uint32(t.dstSamples(len(payload), n))
	}
	seq := h.SequenceNumber + t.seqOff
	t.lastSeq = seq
	out[0] = 0x80 // version 2, no padding, extension or CSRC
	out[1] = pt
	if h.Marker {
		out[1] |= 0x80
	}
	binary.BigEndian.PutUint16(out[2:], seq)
	binary.BigEndian.PutUint32(out[4:], ts)
	binary.BigEndian.PutUint32(out[8:], t.ssrc)
	return 12 + n
}

// restart anchors a new source stream: its first timestamp lands just
// after what was sent so far, its sequence numbers continue ours.
func (t *transcoder) restart(h *pionrtp.Header) {
	to, next := rand.Uint32(), uint16(rand.Uint32())
	if t.started {
		to, next = t.nextTS, t.lastSeq+1
	}
	t.tl, _ = codec.NewTimeline(t.srcRate, t.dstRate, h.Timestamp, to) // rates checked in newTranscoder
	t.conv.Reset(t.tl)
	if t.ev != nil {
		t.ev.Reset(t.tl)
	}
	t.seqOff = next - h.SequenceNumber
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
