package codec

import "fmt"

// G711ToOpus transcodes the G.711 stream of the carrier leg (RTP clock
// 8000) into Opus for the app leg (clock 48000, RFC 7587), one packet per
// payload. A payload must last as long as an Opus packet may: 20 ms (160
// bytes) is the G.711 default (RFC 3551 section 4.5.14); 10, 40 and 60 ms
// work too, 30 ms does not (ErrFrameSize). Lost G.711 packets are not
// made up: the gap reaches the app leg, whose receiver conceals it.
//
// It is not safe for concurrent use: one per call direction, fed by the
// goroutine that reads that direction.
type G711ToOpus struct {
	law Law
	enc *OpusEncoder
	tl  Timeline
	seq sequence
	pcm [maxOpusSamples]int16
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
	return &G711ToOpus{law: law, enc: enc, tl: tl}, nil
}

// Reset starts over on a new G.711 stream with the timeline tl. The
// encoder keeps its state.
func (t *G711ToOpus) Reset(tl Timeline) {
	t.tl, t.seq = tl, sequence{}
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

// Transcode turns the G.711 payload of the RTP packet with sequence
// number seq and timestamp ts into one Opus packet in dst, returning its
// length and RTP timestamp on the Opus stream. It returns ErrLate,
// unwrapped, for a packet to drop; ErrFrameSize for a payload of a
// duration Opus cannot carry; ErrShortBuffer if dst is too small
// ([MaxPayload] never is). A packet refused by ErrLate or ErrFrameSize
// changes nothing.
func (t *G711ToOpus) Transcode(dst []byte, seq uint16, ts uint32, payload []byte) (n int, outTS uint32, err error) {
	if _, err := t.seq.check(seq); err != nil {
		return 0, 0, err
	}
	if !opusFrameSize(len(payload)) {
		return 0, 0, fmt.Errorf("transcode %s seq %d of %d bytes: %w", t.law, seq, len(payload), ErrFrameSize)
	}
	pcm := t.pcm[:len(payload)]
	if _, err := t.law.Decode(pcm, payload); err != nil {
		return 0, 0, err
	}
	n, err = t.enc.Encode(dst, pcm)
	if err != nil {
		return 0, 0, fmt.Errorf("transcode %s seq %d: %w", t.law, seq, err)
	}
	t.seq.accept(seq)
	return n, t.tl.Map(ts), nil
}
