package webrtc

import (
	"fmt"
	"strings"

	pion "github.com/pion/webrtc/v4"
)

// Codec is one payload format of an offer/answer.
type Codec struct {
	PayloadType uint8
	Name        string // as in SDP: "opus", "PCMU", "PCMA", "telephone-event", ...
	Clock       int
	Channels    int // 0 when the SDP gives none
	Fmtp        string
}

// opusFmtp is what we ask of the browser's Opus stream (RFC 7587 section
// 6.1): 10 ms frames allowed, and in-band FEC, which the switch decodes to
// conceal a lost packet.
const opusFmtp = "minptime=10;useinbandfec=1"

// newMediaEngine registers exactly the audio formats a call can use: opus
// (RFC 7587), PCMU and PCMA (RFC 3551), and telephone-event (RFC 4733) at
// both rates Chromium offers. No video, no RTCP feedback (audio needs
// neither NACK nor TWCC) and no header extensions.
//
// The payload types are those pion would offer with. Answering, pion keeps
// the offer's numbers (it matches by name, clock and channels): Chromium's
// telephone-event/8000 is 126, not 101.
//
// Opus is registered without fmtp. Pion drops an offered format whose
// fmtp conflicts with the registered one (useinbandfec=0 against our 1)
// when any other format matches exactly, and the call would lose Opus for
// a parameter that only says what the browser likes to receive. Our
// answer's fmtp comes from Codec.params instead.
func newMediaEngine() (*pion.MediaEngine, error) {
	const telephoneEvent = "audio/telephone-event"
	m := &pion.MediaEngine{}
	for _, c := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: telephoneEvent, ClockRate: 48000}, PayloadType: 110},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: telephoneEvent, ClockRate: 8000}, PayloadType: 101},
	} {
		if err := m.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("register %s/%d: %w", c.MimeType, c.ClockRate, err)
		}
	}
	return m, nil
}

// isAudio reports whether c is a voice codec the switch can answer with.
func (c Codec) isAudio() bool {
	switch {
	case strings.EqualFold(c.Name, "opus"):
		return c.Clock == 48000
	case strings.EqualFold(c.Name, "PCMU"), strings.EqualFold(c.Name, "PCMA"):
		return c.Clock == 8000 && c.Channels <= 1
	}
	return false
}

// isDTMF reports whether c is an RFC 4733 telephone-event format at a rate
// the MediaEngine knows.
func (c Codec) isDTMF() bool {
	return strings.EqualFold(c.Name, "telephone-event") && (c.Clock == 8000 || c.Clock == 48000)
}

// same reports whether a and b are the same payload format: number, name
// and clock (fmtp may differ between offers).
func (c Codec) same(o Codec) bool {
	return c.PayloadType == o.PayloadType && strings.EqualFold(c.Name, o.Name) && c.Clock == o.Clock
}

// String gives the format as in an rtpmap: "111 opus/48000/2".
func (c Codec) String() string {
	if c.Channels > 0 {
		return fmt.Sprintf("%d %s/%d/%d", c.PayloadType, c.Name, c.Clock, c.Channels)
	}
	return fmt.Sprintf("%d %s/%d", c.PayloadType, c.Name, c.Clock)
}

// params is c as pion's codec preference for the answer. Opus gets our
// fmtp, which in an answer says what we want to receive (RFC 7587 section
// 7); other formats keep the offer's (a telephone-event's event list).
func (c Codec) params() pion.RTPCodecParameters {
	p := pion.RTPCodecParameters{PayloadType: pion.PayloadType(c.PayloadType)}
	p.MimeType = "audio/" + c.Name
	p.ClockRate = uint32(c.Clock)
	p.Channels = uint16(c.Channels)
	p.SDPFmtpLine = c.Fmtp
	if strings.EqualFold(c.Name, "opus") {
		p.MimeType = pion.MimeTypeOpus
		p.Channels = 2
		p.SDPFmtpLine = opusFmtp
	}
	return p
}
