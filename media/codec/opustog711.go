package codec

import "fmt"

// MaxPayload is a destination size that always suffices for one call of
// [OpusToG711.Transcode] or [G711ToOpus.Transcode]: an Ethernet MTU.
const MaxPayload = 1500

// maxConceal bounds the audio, at 8 kHz, that OpusToG711 makes up for a
// gap: 60 ms. PLC fades to silence within that; a longer gap is left to
// the G.711 receiver, which sees a timestamp jump as after silence
// suppression.
const maxConceal = 480

// OpusToG711 transcodes the Opus stream of the app leg (RTP clock 48000,
// RFC 7587) into G.711 for the carrier leg (clock 8000), one payload per
// packet, concealing lost packets with in-band FEC and PLC.
//
// When sequence numbers show packets lost just before a packet, the audio
// they carried is made up in front of the packet's own: from the packet's
// FEC data (the frame just before it, RFC 6716 section 2.1.7) and PLC
// before that, up to 60 ms, as long as the timestamps say the gap lasted
// and at most as long as the lost packets would have lasted, were they as
// long as this one. The returned timestamp is then that much earlier than
// the packet's own. Sequence numbers that carried telephone-events
// instead of audio are not loss (see Event).
// A timestamp jump without a sequence gap is DTX (RFC 7587 section 3.1.3)
// and is not filled. An empty payload is concealed for as long as the
// packet before it lasted.
//
// It is not safe for concurrent use: one per call direction, fed by the
// goroutine that reads that direction.
type OpusToG711 struct {
	law   Law
	dec   *OpusDecoder
	tl    Timeline
	seq   sequence
	next  uint32 // Opus timestamp just past the audio transcoded so far
	heard bool   // a packet was transcoded since the last Reset
	pcm   [maxConceal + maxOpusSamples]int16
}

// NewOpusToG711 makes a transcoder to law whose timeline maps the Opus
// stream's timestamps (48000 Hz) onto the G.711 stream's (8000 Hz).
func NewOpusToG711(law Law, tl Timeline) (*OpusToG711, error) {
	if err := law.valid(); err != nil {
		return nil, err
	}
	if !tl.rates(48000, 8000) {
		return nil, fmt.Errorf("opus to g.711 timeline: %w", ErrClockRate)
	}
	dec, err := NewOpusDecoder()
	if err != nil {
		return nil, err
	}
	return &OpusToG711{law: law, dec: dec, tl: tl}, nil
}

// Reset starts over on a new Opus stream (a new SSRC, or after a
// re-INVITE changed the source) with the timeline tl. The decoder keeps
// its state, so the audio stays smooth across the change.
func (t *OpusToG711) Reset(tl Timeline) {
	t.tl, t.seq, t.next, t.heard = tl, sequence{}, 0, false
}

// Event records that the packet with sequence number seq, of the same
// stream, carried a telephone-event (RFC 4733) starting at timestamp ts
// instead of audio, as browsers send while a digit lasts. Its sequence
// number is then no loss, and the time the event takes is not concealed:
// the audio after it starts where its timestamp says. When packets were
// lost just before it and the audio stopped short of ts, the gap up to ts
// is concealed as Transcode would (PLC only, at most 60 ms and as long as
// the lost packets would have lasted) and written into dst as G.711,
// returning its length and timestamp; n is 0 when there is nothing to
// conceal. A seq not newer than the newest seen is ignored.
func (t *OpusToG711) Event(dst []byte, seq uint16, ts uint32) (n int, outTS uint32, err error) {
	lost, err := t.seq.check(seq)
	if err != nil {
		return 0, 0, nil
	}
	t.seq.accept(seq)
	gap := int32(ts - t.next)
	if !t.heard || lost == 0 || gap <= 0 {
		return 0, 0, nil
	}
	conceal := min(int(gap)/(48000/opusRate), lost*t.dec.last, maxConceal) / 20 * 20
	t.next = ts
	if conceal == 0 {
		return 0, 0, nil
	}
	if len(dst) < conceal {
		return 0, 0, fmt.Errorf("conceal before event seq %d into %d bytes: %w", seq, len(dst), ErrShortBuffer)
	}
	pcm := t.pcm[:conceal]
	if _, err := t.dec.Conceal(pcm); err != nil {
		return 0, 0, fmt.Errorf("conceal before event seq %d: %w", seq, err)
	}
	if _, err := t.law.Encode(dst, pcm); err != nil {
		return 0, 0, err
	}
	return conceal, t.tl.Map(ts) - uint32(conceal), nil
}

// Next returns nothing: Transcode writes all it makes of a packet at once.
// It is there for the shape [G711ToOpus.Next] has.
func (t *OpusToG711) Next([]byte) (n int, outTS uint32, err error) { return 0, 0, nil }

// Transcode turns the Opus payload of the RTP packet with sequence number
// seq and timestamp ts into G.711 in dst, returning the bytes written and
// their RTP timestamp on the G.711 stream. It returns ErrLate, unwrapped,
// for a packet to drop; ErrOpusPacket for a malformed payload, which
// changes nothing (the packet counts as lost); ErrShortBuffer if dst is
// too small ([MaxPayload] never is).
func (t *OpusToG711) Transcode(dst []byte, seq uint16, ts uint32, payload []byte) (n int, outTS uint32, err error) {
	lost, err := t.seq.check(seq)
	if err != nil {
		return 0, 0, err
	}
	samples := t.dec.last
	if len(payload) > 0 {
		total, _, err := opusDuration(payload)
		if err != nil {
			return 0, 0, fmt.Errorf("transcode opus seq %d: %w", seq, err)
		}
		samples = total / (48000 / opusRate)
	}
	conceal := 0
	if gap := int32(ts - t.next); t.heard && lost > 0 && gap > 0 {
		conceal = min(int(gap)/(48000/opusRate), lost*samples, maxConceal) / 20 * 20
	}
	if len(dst) < conceal+samples {
		return 0, 0, fmt.Errorf("transcode opus seq %d to %d bytes: %w", seq, len(dst), ErrShortBuffer)
	}
	pcm := t.pcm[:conceal+samples]
	if conceal > 0 {
		if len(payload) == 0 {
			_, err = t.dec.Conceal(pcm[:conceal])
		} else if _, err = t.dec.DecodeFEC(pcm[:conceal], payload); err != nil {
			_, err = t.dec.Conceal(pcm[:conceal])
		}
		if err != nil {
			return 0, 0, fmt.Errorf("transcode opus seq %d: %w", seq, err)
		}
	}
	if len(payload) == 0 {
		_, err = t.dec.Conceal(pcm[conceal:])
	} else {
		_, err = t.dec.decode(pcm[conceal:], payload, samples)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("transcode opus seq %d: %w", seq, err)
	}
	if _, err := t.law.Encode(dst, pcm); err != nil {
		return 0, 0, err
	}
	t.seq.accept(seq)
	t.next, t.heard = ts+uint32(samples*(48000/opusRate)), true
	return len(pcm), t.tl.Map(ts) - uint32(conceal), nil
}
