package codec

import "fmt"

// G711ToOpus transcodes the G.711 stream of the carrier leg (RTP clock
// 8000) into Opus for the app leg (clock 48000, RFC 7587). The Opus
// packets last the app's packet time, 20 ms unless SetFrame says
// otherwise, whatever the G.711 packets last (10, 20, 30 ms ...): samples
// wait in a [Packetizer] until they fill a frame, so one G.711 packet
// makes none, one or several Opus packets (Transcode returns the first,
// Next the others). Lost G.711 packets are not made up: the gap reaches
// the app leg, whose receiver conceals it; a frame part full at a gap is
// completed with silence.
//
// It is not safe for concurrent use: one per call direction, fed by the
// goroutine that reads that direction.
type G711ToOpus struct {
	law Law
	enc *OpusEncoder
	tl  Timeline
	seq sequence
	pk  *Packetizer[int16]
	pcm [MaxPayload]int16
}

// NewG711ToOpus makes a transcoder from law whose timeline maps the G.711
// stream's timestamps (8000 Hz) onto the Opus stream's (48000 Hz).
func NewG711ToOpus(law Law, tl Timeline, cfg OpusConfig) (*G711ToOpus, error) {
	if err := law.valid(); err != nil {
		return nil, err
	}
	if !tl.rates(8000, 48000) {
		return nil, fmt.Errorf("g.711 to opus timeline: %w", ErrClockRate)
	}
	enc, err := NewOpusEncoder(cfg)
	if err != nil {
		return nil, err
	}
	pk, err := NewPacketizer[int16](FrameSamples, MaxPayload, 0)
	if err != nil {
		return nil, err
	}
	return &G711ToOpus{law: law, enc: enc, tl: tl, pk: pk}, nil
}

// SetFrame sets the duration of the Opus packets, in samples at 8000 Hz:
// 80, 160, 320 or 480 (10, 20, 40 or 60 ms); others are ErrFrameSize.
// Call it before the first packet.
func (t *G711ToOpus) SetFrame(samples int) error {
	switch samples {
	case 80, 160, 320, 480:
	default:
		return fmt.Errorf("opus frame of %d samples: %w", samples, ErrFrameSize)
	}
	pk, err := NewPacketizer[int16](samples, MaxPayload, 0)
	if err != nil {
		return err
	}
	t.pk = pk
	return nil
}

// Frame is the duration of the Opus packets, in samples at 8000 Hz.
func (t *G711ToOpus) Frame() int { return t.pk.Frame() }

// Reset starts over on a new G.711 stream with the timeline tl. The
// encoder keeps its state; samples waiting for a frame are dropped.
func (t *G711ToOpus) Reset(tl Timeline) {
	t.tl, t.seq = tl, sequence{}
	t.pk.Reset()
}

// Event records that the packet with sequence number seq carried a
// telephone-event, not audio. Lost G.711 is not made up, so it returns
// nothing; it has the signature of [OpusToG711.Event].
func (t *G711ToOpus) Event(_ []byte, seq uint16, _ uint32) (n int, outTS uint32, err error) {
	if _, err := t.seq.check(seq); err == nil {
		t.seq.accept(seq)
	}
	return 0, 0, nil
}

// SetPacketLoss changes the loss the encoder protects against with FEC.
func (t *G711ToOpus) SetPacketLoss(percent int) error {
	return t.enc.SetPacketLoss(percent)
}

// Transcode takes the G.711 payload of the RTP packet with sequence
// number seq and timestamp ts and writes the first Opus packet it
// completes into dst, returning its length and RTP timestamp on the Opus
// stream; n is 0 when the samples wait for more. Next returns the other
// packets it completed. It returns ErrLate, unwrapped, for a packet to
// drop; ErrFrameSize for an empty payload or one over [MaxPayload];
// ErrShortBuffer for an empty dst. A packet refused changes nothing.
func (t *G711ToOpus) Transcode(dst []byte, seq uint16, ts uint32, payload []byte) (n int, outTS uint32, err error) {
	if _, err := t.seq.check(seq); err != nil {
		return 0, 0, err
	}
	if len(payload) == 0 || len(payload) > len(t.pcm) {
		return 0, 0, fmt.Errorf("transcode %s seq %d of %d bytes: %w", t.law, seq, len(payload), ErrFrameSize)
	}
	if len(dst) == 0 {
		return 0, 0, fmt.Errorf("transcode %s seq %d into 0 bytes: %w", t.law, seq, ErrShortBuffer)
	}
	pcm := t.pcm[:len(payload)]
	if _, err := t.law.Decode(pcm, payload); err != nil {
		return 0, 0, err
	}
	if err := t.pk.Push(pcm, ts); err != nil {
		return 0, 0, err
	}
	t.seq.accept(seq)
	return t.Next(dst)
}

// Next writes into dst the next Opus packet the last Transcode completed,
// returning its length and timestamp; n is 0 when there is none.
func (t *G711ToOpus) Next(dst []byte) (n int, outTS uint32, err error) {
	frame, ts, _, ok := t.pk.Pop()
	if !ok {
		return 0, 0, nil
	}
	n, err = t.enc.Encode(dst, frame)
	if err != nil {
		return 0, 0, fmt.Errorf("transcode %s: %w", t.law, err)
	}
	return n, t.tl.Map(ts), nil
}
