package webrtc

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// maxOffer bounds the offer text. Chromium's offer is ~3 KB; SIP limits
// the body well before this.
const maxOffer = 64 << 10

// offer is what this package reads from a browser's offer: the parsed
// description, its audio m-line and that m-line's formats and direction.
type offer struct {
	desc      *sdp.SessionDescription
	audio     *sdp.MediaDescription // the first audio m-line that is not rejected
	mid       string
	codecs    []Codec  // the audio m-line's formats, in order
	direction string   // "sendrecv", "sendonly", "recvonly" or "inactive"
	certs     []string // the audio's a=fingerprint values, normalized and sorted
}

// parseOffer parses an offer and checks that a WebRTC leg can take it:
// an audio m-line over DTLS-SRTP (UDP/TLS/RTP/SAVP(F), RFC 5764 section 8,
// RFC 8842) with a certificate fingerprint (RFC 8122, RFC 5763 section 5)
// and ICE credentials (RFC 8839 section 5.4), and opus, PCMU or PCMA among
// its formats. It never panics on any input.
func parseOffer(b []byte) (*offer, error) {
	if len(b) > maxOffer {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrMalformedOffer, len(b), maxOffer)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformedOffer)
	}
	desc := &sdp.SessionDescription{}
	if err := desc.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedOffer, err)
	}
	o := &offer{desc: desc}
	for _, m := range desc.MediaDescriptions {
		if !strings.EqualFold(m.MediaName.Media, "audio") {
			continue
		}
		// Port 0 rejects the stream unless it is bundle-only (RFC 8843
		// section 6): a bundle-only m-line uses the bundle's transport.
		if _, bundleOnly := m.Attribute("bundle-only"); m.MediaName.Port.Value == 0 && !bundleOnly {
			continue
		}
		o.audio = m
		break
	}
	if o.audio == nil {
		return nil, fmt.Errorf("%w: no audio m-line", ErrNoAudio)
	}
	if err := checkDTLS(desc, o.audio); err != nil {
		return nil, err
	}
	mid, ok := o.audio.Attribute(sdp.AttrKeyMID)
	if !ok || mid == "" {
		return nil, fmt.Errorf("%w: the audio m-line has no a=mid (RFC 5888, which BUNDLE needs, RFC 8843)", ErrMalformedOffer)
	}
	o.mid = mid
	codecs, err := mediaCodecs(o.audio)
	if err != nil {
		return nil, err
	}
	o.codecs = codecs
	usable := false
	for _, c := range codecs {
		usable = usable || c.isAudio()
	}
	if !usable {
		return nil, fmt.Errorf("%w: no opus, PCMU or PCMA among %s", ErrNoAudio, formatList(codecs))
	}
	o.direction = direction(desc, o.audio)
	o.certs = fingerprints(desc, o.audio)
	return o, nil
}

// fingerprints lists the a=fingerprint values that apply to m: its own,
// else the session's (RFC 8122 section 5), as "sha-256 AB:CD:...", sorted.
func fingerprints(desc *sdp.SessionDescription, m *sdp.MediaDescription) []string {
	var fps []string
	for _, attrs := range [][]sdp.Attribute{m.Attributes, desc.Attributes} {
		for _, a := range attrs {
			if a.Key == "fingerprint" {
				alg, digest, _ := strings.Cut(strings.TrimSpace(a.Value), " ")
				fps = append(fps, strings.ToLower(alg)+" "+strings.ToUpper(strings.TrimSpace(digest)))
			}
		}
		if len(fps) > 0 {
			break
		}
	}
	slices.Sort(fps)
	return fps
}

// checkDTLS tells a DTLS-SRTP offer from plain RTP and SDES-keyed SRTP.
func checkDTLS(desc *sdp.SessionDescription, m *sdp.MediaDescription) error {
	proto := strings.ToUpper(strings.Join(m.MediaName.Protos, "/"))
	_, crypto := m.Attribute("crypto")
	switch proto {
	case "UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP":
	case "RTP/AVP", "RTP/AVPF":
		return fmt.Errorf("%w: the offer is plain RTP (%s), only DTLS-SRTP (UDP/TLS/RTP/SAVPF) is supported", ErrNotDTLS, proto)
	case "RTP/SAVP", "RTP/SAVPF":
		if crypto {
			return fmt.Errorf("%w: the offer uses SDES keys (%s with a=crypto), only DTLS-SRTP (UDP/TLS/RTP/SAVPF) is supported", ErrNotDTLS, proto)
		}
		return fmt.Errorf("%w: the offer's profile is %s, only DTLS-SRTP (UDP/TLS/RTP/SAVPF) is supported", ErrNotDTLS, proto)
	default:
		return fmt.Errorf("%w: unsupported transport %q, only UDP/TLS/RTP/SAVPF", ErrNotDTLS, proto)
	}
	if !has(desc, m, "fingerprint") {
		if crypto {
			return fmt.Errorf("%w: the offer has SDES keys (a=crypto) but no a=fingerprint, only DTLS-SRTP is supported", ErrNotDTLS)
		}
		return fmt.Errorf("%w: the offer has no a=fingerprint (RFC 8122)", ErrNotDTLS)
	}
	for _, attrs := range [][]sdp.Attribute{desc.Attributes, m.Attributes} {
		for _, a := range attrs {
			if a.Key == "fingerprint" && !validFingerprint(a.Value) {
				return fmt.Errorf("%w: a=fingerprint:%s is not a hash function and its hex digest (RFC 8122 section 5)", ErrMalformedOffer, a.Value)
			}
		}
	}
	if !has(desc, m, "ice-ufrag") || !has(desc, m, "ice-pwd") {
		return fmt.Errorf("%w: the offer has no ICE credentials (a=ice-ufrag, a=ice-pwd)", ErrNotDTLS)
	}
	return nil
}

// validFingerprint checks "<hash-func> <hex:hex:...>" (RFC 8122 section
// 5) for the hash functions DTLS uses, with a digest of the right length.
// Pion would take a bad one and fail the handshake seconds later.
func validFingerprint(v string) bool {
	alg, digest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return false
	}
	var size int
	switch strings.ToLower(alg) {
	case "sha-1":
		size = 20
	case "sha-224":
		size = 28
	case "sha-256":
		size = 32
	case "sha-384":
		size = 48
	case "sha-512":
		size = 64
	default:
		return false
	}
	pairs := strings.Split(strings.TrimSpace(digest), ":")
	if len(pairs) != size {
		return false
	}
	for _, p := range pairs {
		if _, err := strconv.ParseUint(p, 16, 8); err != nil || len(p) != 2 {
			return false
		}
	}
	return true
}

// has reports whether attribute key is set on m or at session level.
func has(desc *sdp.SessionDescription, m *sdp.MediaDescription, key string) bool {
	if v, ok := m.Attribute(key); ok && v != "" {
		return true
	}
	v, ok := desc.Attribute(key)
	return ok && v != ""
}

// mediaCodecs lists m's formats in order, from a=rtpmap and a=fmtp, or
// from the static payload types of RFC 3551 table 4 without an rtpmap.
// A dynamic format without an rtpmap is skipped: nobody can use it.
func mediaCodecs(m *sdp.MediaDescription) ([]Codec, error) {
	codecs := make([]Codec, 0, len(m.MediaName.Formats))
	for _, f := range m.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return nil, fmt.Errorf("%w: audio format %q is not a payload type", ErrMalformedOffer, f)
		}
		c := Codec{PayloadType: uint8(pt)}
		if !rtpmap(m, &c) && !static(&c) {
			continue
		}
		c.Fmtp = fmtp(m, c.PayloadType)
		codecs = append(codecs, c)
	}
	return codecs, nil
}

// rtpmap fills c from "a=rtpmap:<pt> <name>/<clock>[/<channels>]" (RFC
// 4566 section 6). It reports false if there is no valid one for c.
func rtpmap(m *sdp.MediaDescription, c *Codec) bool {
	prefix := strconv.Itoa(int(c.PayloadType)) + " "
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" || !strings.HasPrefix(a.Value, prefix) {
			continue
		}
		parts := strings.Split(strings.TrimSpace(a.Value[len(prefix):]), "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
			return false
		}
		clock, err := strconv.ParseUint(parts[1], 10, 31)
		if err != nil || clock == 0 {
			return false
		}
		c.Name, c.Clock = parts[0], int(clock)
		if len(parts) == 3 {
			ch, err := strconv.ParseUint(parts[2], 10, 8)
			if err != nil {
				return false
			}
			c.Channels = int(ch)
		}
		return true
	}
	return false
}

// static fills c from the static audio payload types of RFC 3551 table 4.
func static(c *Codec) bool {
	switch c.PayloadType {
	case 0:
		c.Name, c.Clock = "PCMU", 8000
	case 3:
		c.Name, c.Clock = "GSM", 8000
	case 4:
		c.Name, c.Clock = "G723", 8000
	case 8:
		c.Name, c.Clock = "PCMA", 8000
	case 9:
		c.Name, c.Clock = "G722", 8000
	case 13:
		c.Name, c.Clock = "CN", 8000
	case 18:
		c.Name, c.Clock = "G729", 8000
	default:
		return false
	}
	return true
}

// fmtp is the "a=fmtp:<pt> <params>" value for pt, "" without one.
func fmtp(m *sdp.MediaDescription, pt uint8) string {
	prefix := strconv.Itoa(int(pt)) + " "
	for _, a := range m.Attributes {
		if a.Key == "fmtp" && strings.HasPrefix(a.Value, prefix) {
			return strings.TrimSpace(a.Value[len(prefix):])
		}
	}
	return ""
}

// direction is m's direction attribute, else the session's, else sendrecv
// (RFC 3264 section 5.1).
func direction(desc *sdp.SessionDescription, m *sdp.MediaDescription) string {
	for _, attrs := range [][]sdp.Attribute{m.Attributes, desc.Attributes} {
		if i := slices.IndexFunc(attrs, isDirection); i >= 0 {
			return attrs[i].Key
		}
	}
	return "sendrecv"
}

// answerDirection is the direction that answers an offer's (RFC 3264
// section 6.1), for an answerer that would send and receive.
func answerDirection(offered string) string {
	switch offered {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// onHold reports whether an offer's direction puts the call on hold: the
// browser stops receiving (RFC 3264 section 8.4).
func onHold(offered string) bool { return offered == "sendonly" || offered == "inactive" }

func formatList(codecs []Codec) string {
	if len(codecs) == 0 {
		return "no formats"
	}
	s := make([]string, len(codecs))
	for i, c := range codecs {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}
