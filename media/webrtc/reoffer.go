package webrtc

import (
	"errors"
	"fmt"
	"slices"

	pion "github.com/pion/webrtc/v4"
)

// Reoffer applies a new offer from the browser inside the call (SIP
// re-INVITE, RFC 8829 section 5.10 and RFC 3264 section 8): hold
// (a=sendonly / a=inactive), unhold, an ICE restart (new ice-ufrag, RFC
// 8445 section 9), same codecs. It returns the answer and whether the
// browser has put the call on hold. The codecs stay those of the first
// answer; an offer without the chosen audio codec is an error (ErrNoAudio),
// and one without the chosen telephone-event is answered without it.
//
// On hold WriteRTP drops what the switch sends (our answer said recvonly
// or inactive) until an offer takes the call off hold.
//
// An offer refused with ErrNotDTLS, ErrNoAudio or ErrMalformedOffer was
// refused before pion saw it and leaves the call as it was: the switch
// answers the re-INVITE 488 (or 400) and the call goes on. Any other error
// comes from pion; the call's state is then unknown and the switch should
// end the call.
func (p *Peer) Reoffer(offerSDP []byte) (answer []byte, hold bool, err error) {
	p.sig.Lock()
	defer p.sig.Unlock()
	if p.isDone() {
		return nil, false, p.closedErr("reoffer")
	}
	if p.answer == nil {
		return nil, false, errors.New("reoffer: the first offer is not answered yet")
	}
	o, err := parseOffer(offerSDP)
	if err != nil {
		return nil, false, fmt.Errorf("reoffer: %w", err)
	}
	if o.mid != p.mid {
		return nil, false, fmt.Errorf("reoffer: %w: the audio m-line's mid is %q, was %q", ErrMalformedOffer, o.mid, p.mid)
	}
	// A new fingerprint asks for a new DTLS association (RFC 8842 section
	// 5.5), which pion does not do: it would go on with the old one and
	// say nothing.
	if !slices.Equal(o.certs, p.certs) {
		return nil, false, fmt.Errorf("reoffer: %w: the browser's certificate fingerprint changed; a new DTLS association is not supported", ErrNotDTLS)
	}
	keep := make([]uint8, 0, 2)
	if !offers(o, p.audio) {
		return nil, false, fmt.Errorf("reoffer: %w: audio %s is no longer offered (%s)", ErrNoAudio, p.audio, formatList(o.codecs))
	}
	keep = append(keep, p.audio.PayloadType)
	dtmf := p.dtmf != nil && offers(o, *p.dtmf)
	if dtmf {
		keep = append(keep, p.dtmf.PayloadType)
	}
	sdpText, err := pionOffer(o)
	if err != nil {
		return nil, false, fmt.Errorf("reoffer: %w", err)
	}
	if err := p.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: sdpText}); err != nil {
		return nil, false, fmt.Errorf("reoffer: pion set remote description: %w", err)
	}
	dir := answerDirection(o.direction)
	ans, err := p.negotiate(keep, dir)
	if err != nil {
		return nil, false, fmt.Errorf("reoffer: %w", err)
	}
	p.dir = o.direction
	if !dtmf {
		p.dtmfPT.Store(-1)
	} else {
		p.dtmfPT.Store(int32(p.dtmf.PayloadType))
	}
	p.sending.Store(dir == "sendrecv" || dir == "sendonly")
	return []byte(ans), onHold(o.direction), nil
}

// offers reports whether o's audio m-line still lists c.
func offers(o *offer, c Codec) bool {
	for _, oc := range o.codecs {
		if oc.same(c) {
			return true
		}
	}
	return false
}
