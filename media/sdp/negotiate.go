package sdp

import (
	"fmt"
	"strconv"
	"strings"
)

// Negotiate picks what an answer to offer carries (RFC 3264 section 6.1):
// the audio codec, and the RFC 4733 telephone-event to go with it.
//
// supported names the codecs we carry, as "NAME" (any clock rate) or
// "NAME/CLOCK", e.g. {"PCMU", "PCMA", "telephone-event/8000"}. The audio
// codec is the first one in the offer's order that supported names: the
// offerer's preference wins, as RFC 3264 section 6.1 recommends, so the
// order of supported does not matter. Entries naming telephone-event take
// no part in that choice.
//
// dtmf is the offer's telephone-event at the audio codec's clock rate
// (RFC 4733 section 2.1 ties an event stream to the audio's clock), or nil
// if the offer has none. The switch relays events unmodified, so it takes
// them whenever they are offered.
//
// The returned codecs keep the offerer's payload type numbers and fmtp, as
// an answer must (RFC 3264 section 6.1). The error wraps ErrNoCodec.
func Negotiate(offer *Session, supported []string) (audio Codec, dtmf *Codec, err error) {
	type want struct {
		name  string
		clock int
	}
	var wants []want
	for _, s := range supported {
		name, rate, _ := strings.Cut(strings.TrimSpace(s), "/")
		if strings.EqualFold(name, "telephone-event") || name == "" {
			continue
		}
		clock, _ := strconv.Atoi(rate) // 0, any rate, when absent or garbled
		wants = append(wants, want{name, clock})
	}
	found := false
offer:
	for _, c := range offer.Codecs {
		if c.Is("telephone-event", 0) {
			continue
		}
		for _, w := range wants {
			if c.Is(w.name, w.clock) {
				audio, found = c, true
				break offer
			}
		}
	}
	if !found {
		return Codec{}, nil, fmt.Errorf("negotiate: %w: the offer has %s, we carry %s", ErrNoCodec, codecList(offer.Codecs), strings.Join(supported, ", "))
	}
	if te, ok := offer.Find("telephone-event", audio.Clock); ok {
		dtmf = &te
	}
	return audio, dtmf, nil
}

func codecList(cs []Codec) string {
	if len(cs) == 0 {
		return "no codec"
	}
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}
