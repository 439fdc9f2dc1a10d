package webrtc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// The SDP that pion sees and the SDP the browser gets differ in the audio
// m-line, in three ways:
//
//   - pion is always offered sendrecv, and its answers say sendrecv. Pion
//     stops a transceiver for good when an offer says a=inactive, so a
//     call put on hold with inactive could never be taken off hold; and it
//     does not answer sendonly with recvonly. So the direction is ours: we
//     keep the offer's in the Peer, write the answer's by RFC 3264 section
//     6.1 into the copy the browser gets, and gate WriteRTP on it.
//   - pion is offered an rtpmap for every format, static ones included.
//   - the browser's answer keeps only the chosen formats. Codec
//     preferences already make pion list only those; the rewrite also holds
//     for a re-offer that drops telephone-event.
//
// Pion sets its own answer as it made it: it refuses a changed local
// description (JSEP forbids munging, RFC 8829 section 5.4). The browser
// gets the changed copy.

// pionOffer is o as pion is to see it: the audio m-line sendrecv, its
// formats those of o.codecs, each with an rtpmap. Pion needs an rtpmap
// even for a static payload type (RFC 3551 section 6 does not): it drops
// PCMU without one and refuses any other.
func pionOffer(o *offer) (string, error) {
	setDirection(o.audio, "sendrecv")
	formats := make([]string, 0, len(o.codecs))
	for _, c := range o.codecs {
		pt := strconv.Itoa(int(c.PayloadType))
		formats = append(formats, pt)
		if !slices.ContainsFunc(o.audio.Attributes, func(a sdp.Attribute) bool {
			return a.Key == "rtpmap" && strings.HasPrefix(a.Value, pt+" ")
		}) {
			o.audio.Attributes = append(o.audio.Attributes, sdp.NewAttribute("rtpmap", fmt.Sprintf("%s %s/%d", pt, c.Name, c.Clock)))
		}
	}
	o.audio.MediaName.Formats = formats
	b, err := o.desc.Marshal()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformedOffer, err)
	}
	return string(b), nil
}

// shapeAnswer rewrites pion's answer: in the m-line of mid, only the
// payload types in keep (in that order), and direction dir.
func shapeAnswer(answer, mid string, keep []uint8, dir string) (string, error) {
	desc := &sdp.SessionDescription{}
	if err := desc.UnmarshalString(answer); err != nil {
		return "", fmt.Errorf("parse pion's answer: %w", err)
	}
	var m *sdp.MediaDescription
	for _, md := range desc.MediaDescriptions {
		if v, _ := md.Attribute(sdp.AttrKeyMID); v == mid {
			m = md
			break
		}
	}
	if m == nil {
		return "", fmt.Errorf("pion's answer has no m-line for mid %q", mid)
	}
	formats := make([]string, 0, len(keep))
	for _, pt := range keep {
		f := strconv.Itoa(int(pt))
		if !slices.Contains(m.MediaName.Formats, f) {
			return "", fmt.Errorf("pion's answer lacks payload type %d (it has %v)", pt, m.MediaName.Formats)
		}
		formats = append(formats, f)
	}
	m.MediaName.Formats = formats
	m.Attributes = slices.DeleteFunc(m.Attributes, func(a sdp.Attribute) bool {
		switch a.Key {
		case "rtpmap", "fmtp", "rtcp-fb":
			pt, _, _ := strings.Cut(a.Value, " ")
			return pt != "*" && !slices.Contains(formats, pt)
		}
		return false
	})
	setDirection(m, dir)
	b, err := desc.Marshal()
	if err != nil {
		return "", fmt.Errorf("write answer: %w", err)
	}
	return string(b), nil
}

// setDirection replaces m's direction attribute with dir, in its place,
// or adds one.
func setDirection(m *sdp.MediaDescription, dir string) {
	i := slices.IndexFunc(m.Attributes, isDirection)
	if i < 0 {
		m.Attributes = append(m.Attributes, sdp.NewPropertyAttribute(dir))
		return
	}
	m.Attributes[i] = sdp.NewPropertyAttribute(dir)
	m.Attributes = append(m.Attributes[:i+1], slices.DeleteFunc(m.Attributes[i+1:], isDirection)...)
}

func isDirection(a sdp.Attribute) bool {
	switch a.Key {
	case "sendrecv", "sendonly", "recvonly", "inactive":
		return true
	}
	return false
}
