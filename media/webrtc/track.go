package webrtc

import (
	"fmt"
	"sync/atomic"

	pion "github.com/pion/webrtc/v4"
)

// sendTrack is the switch's audio to the browser as a pion TrackLocal.
//
// Pion's TrackLocalStaticRTP rewrites every packet's payload type to the
// bound codec's, which would turn a telephone-event packet (RFC 4733) into
// a broken audio packet. This track hands pion the switch's header as it
// is, only with the SSRC pion negotiated (a=ssrc in our answer).
type sendTrack struct {
	audioPT uint8
	bound   atomic.Pointer[binding]
}

// binding is what Bind gives the track: where to write, and as which SSRC.
type binding struct {
	id    string // the TrackLocalContext's, to match Unbind
	w     pion.TrackLocalWriter
	ssrc  uint32
	clock uint32 // of the audio codec, which telephone-event shares
}

var _ pion.TrackLocal = (*sendTrack)(nil)

func newSendTrack(audioPT uint8) *sendTrack { return &sendTrack{audioPT: audioPT} }

// Bind is called by pion once the answer is set. It picks the chosen
// audio codec as the track's codec (what the RTCP sender reports take the
// clock rate from); telephone-event shares its clock.
func (t *sendTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if uint8(c.PayloadType) == t.audioPT {
			t.bound.Store(&binding{id: ctx.ID(), w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), clock: c.ClockRate})
			return c, nil
		}
	}
	return pion.RTPCodecParameters{}, fmt.Errorf("bind audio track: payload type %d not negotiated: %w", t.audioPT, pion.ErrUnsupportedCodec)
}

// Unbind is called by pion when the sender stops.
func (t *sendTrack) Unbind(ctx pion.TrackLocalContext) error {
	if b := t.bound.Load(); b != nil && b.id == ctx.ID() {
		t.bound.CompareAndSwap(b, nil)
	}
	return nil
}

func (t *sendTrack) ID() string              { return "audio" }
func (t *sendTrack) RID() string             { return "" }
func (t *sendTrack) StreamID() string        { return "dialtone" }
func (t *sendTrack) Kind() pion.RTPCodecType { return pion.RTPCodecTypeAudio }

// ssrc is our stream's SSRC once bound, else 0.
func (t *sendTrack) ssrc() uint32 {
	if b := t.bound.Load(); b != nil {
		return b.ssrc
	}
	return 0
}
