// Package sdp reads and writes the session descriptions of the calls the
// switch carries (RFC 4566) and does the codec part of the offer/answer
// model (RFC 3264).
//
// It owns three things:
//   - Parse: the grammar is parsed by pion/sdp; this package pulls out the
//     first audio stream (address, RTCP address, profile, payload formats
//     with rtpmap and fmtp, direction, ptime) into a Session.
//   - Negotiate: picks the audio codec and the RFC 4733 telephone-event of
//     an offer that we can carry, keeping the offerer's payload types.
//   - Description and Builder: the SDP the switch sends. It names only the
//     switch's own address and origin, never the other leg's, which is how
//     the switch hides each side's topology from the other.
//
// Concurrency: Parse, Negotiate and Description.Marshal are pure functions
// of their input and safe for concurrent use. A Builder keeps the o= line of
// one leg and is safe for concurrent use (it has its own mutex).
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dialtone/dialtone"
	psdp "github.com/pion/sdp/v3"
)

// Errors of Parse and Negotiate; match them with errors.Is.
var (
	// ErrMalformed: the body is not SDP, or its audio stream is unusable
	// (no c= line, a host name or multicast group instead of an address).
	ErrMalformed = errors.New("malformed sdp")
	// ErrNoAudio: no audio m= line, or the audio stream is rejected (port 0).
	ErrNoAudio = errors.New("no audio stream")
	// ErrNoCodec is dialtone.ErrNoCodec, so the call controller's outcome
	// table maps it (to 488) whether it came from here or elsewhere.
	ErrNoCodec = dialtone.ErrNoCodec
)

// Direction is the media direction attribute (RFC 3264 section 5.1), as
// seen by the party whose SDP it is: sendonly means that party only sends.
type Direction string

const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// Answer is the direction an answer takes to an offer of d
// (RFC 3264 section 6.1): sendonly is answered recvonly and recvonly
// sendonly; sendrecv and inactive are answered alike.
func (d Direction) Answer() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// Hold reports whether a party that sent d has put the stream on hold
// (RFC 3264 section 8.4): it said sendonly or inactive.
func (d Direction) Hold() bool { return d == SendOnly || d == Inactive }

// Codec is one payload format of an audio stream.
type Codec struct {
	PT       uint8
	Name     string // encoding name as in rtpmap, e.g. "PCMU", "telephone-event"
	Clock    int    // RTP clock rate in Hz
	Channels int    // 1 unless the rtpmap says otherwise
	Fmtp     string // format parameters (a=fmtp), e.g. "0-16"; empty when absent
}

// Is reports whether c is the named codec (case-insensitive) at the given
// clock rate (0: any rate).
func (c Codec) Is(name string, clock int) bool {
	return strings.EqualFold(c.Name, name) && (clock == 0 || c.Clock == clock)
}

// String is "name/clock", e.g. "PCMU/8000", as in an rtpmap.
func (c Codec) String() string { return c.Name + "/" + strconv.Itoa(c.Clock) }

// Origin is the o= line (RFC 4566 section 5.2). A re-sent description with
// the same session id and version is unchanged (RFC 3264 section 8).
type Origin struct {
	Username  string
	SessionID uint64
	Version   uint64
}

// Session is what the switch uses of a session description: its origin
// and its first audio stream.
type Session struct {
	Origin Origin
	// Addr is where the party wants RTP: the c= address (media level, else
	// session level, RFC 4566 section 5.7) and the m= port. The address is
	// unspecified (0.0.0.0) for an old-style hold (RFC 3264 section 8.4).
	Addr netip.AddrPort
	// RTCP is where the party wants RTCP: a=rtcp (RFC 3605), else the
	// RTP port + 1 (RFC 3550 section 11).
	RTCP      netip.AddrPort
	Proto     string    // transport profile of the m= line, e.g. "RTP/AVP", "UDP/TLS/RTP/SAVPF"
	Codecs    []Codec   // the payload formats we could name, in the order of the m= line
	Direction Direction // media level, else session level; sendrecv when absent
	Ptime     int       // packet time in milliseconds (a=ptime); 0 when absent
}

// Audio is the old name of Session.
//
// Deprecated: use Session.
type Audio = Session

// Find returns the first codec of s with the given name and clock (0: any).
func (s *Session) Find(name string, clock int) (Codec, bool) {
	for _, c := range s.Codecs {
		if c.Is(name, clock) {
			return c, true
		}
	}
	return Codec{}, false
}

// PlainRTP reports whether the stream is plain RTP (RTP/AVP or RTP/AVPF),
// which the relay carries; SRTP and DTLS profiles it does not.
func (s *Session) PlainRTP() bool {
	return strings.EqualFold(s.Proto, "RTP/AVP") || strings.EqualFold(s.Proto, "RTP/AVPF")
}

// Hold reports whether the party has put the stream on hold: it said
// sendonly or inactive, or (plain RTP only) gave the address 0.0.0.0 as
// RFC 2543 did. ICE offers also carry 0.0.0.0 and are not holds.
func (s *Session) Hold() bool {
	return s.Direction.Hold() || s.PlainRTP() && s.Addr.Addr().IsUnspecified()
}

// staticPT is RFC 3551 section 6 table 4: the audio payload types an
// rtpmap may omit.
func staticPT(pt uint8) (Codec, bool) {
	c := Codec{PT: pt, Clock: 8000, Channels: 1}
	switch pt {
	case 0:
		c.Name = "PCMU"
	case 3:
		c.Name = "GSM"
	case 4:
		c.Name = "G723"
	case 5:
		c.Name = "DVI4"
	case 6:
		c.Name, c.Clock = "DVI4", 16000
	case 7:
		c.Name = "LPC"
	case 8:
		c.Name = "PCMA"
	case 9:
		c.Name = "G722" // 8000 by RFC 3551's historical error; the audio is 16 kHz
	case 10:
		c.Name, c.Clock, c.Channels = "L16", 44100, 2
	case 11:
		c.Name, c.Clock = "L16", 44100
	case 12:
		c.Name = "QCELP"
	case 13:
		c.Name = "CN"
	case 14:
		c.Name, c.Clock = "MPA", 90000
	case 15:
		c.Name = "G728"
	case 16:
		c.Name, c.Clock = "DVI4", 11025
	case 17:
		c.Name, c.Clock = "DVI4", 22050
	case 18:
		c.Name = "G729"
	default:
		return Codec{}, false
	}
	return c, true
}

// Parse reads the session description b and returns its origin and first
// audio stream. Errors wrap ErrMalformed or ErrNoAudio.
func Parse(b []byte) (*Session, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("parse sdp: %w: empty body", ErrMalformed)
	}
	var sd psdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("parse sdp: %w: %w", ErrMalformed, err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "audio" {
			return audio(&sd, md)
		}
	}
	return nil, fmt.Errorf("parse sdp: %w: no m=audio line", ErrNoAudio)
}

func audio(sd *psdp.SessionDescription, md *psdp.MediaDescription) (*Session, error) {
	port := md.MediaName.Port.Value
	if port == 0 {
		return nil, fmt.Errorf("parse sdp: %w: audio stream rejected (port 0)", ErrNoAudio)
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("parse sdp: %w: audio port %d", ErrMalformed, port)
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return nil, fmt.Errorf("parse sdp: %w: no c= line for the audio stream", ErrMalformed)
	}
	ip, err := parseIP(ci.Address.Address)
	if err != nil {
		return nil, err
	}
	s := &Session{
		Origin: Origin{Username: sd.Origin.Username, SessionID: sd.Origin.SessionID, Version: sd.Origin.SessionVersion},
		Addr:   netip.AddrPortFrom(ip, uint16(port)),
		Proto:  strings.Join(md.MediaName.Protos, "/"),
		// RFC 3264 section 5.1: sendrecv when neither level says otherwise.
		Direction: SendRecv,
	}
	s.RTCP = netip.AddrPortFrom(ip, uint16(port+1))
	if port == 65535 {
		s.RTCP = netip.AddrPortFrom(ip, uint16(port)) // no room for +1; a=rtcp may still say
	}

	direction := func(attrs []psdp.Attribute) {
		for _, at := range attrs {
			switch d := Direction(at.Key); d {
			case SendRecv, SendOnly, RecvOnly, Inactive:
				s.Direction = d
			}
		}
	}
	direction(sd.Attributes)
	direction(md.Attributes) // media level wins

	rtpmap := map[uint8]Codec{}
	fmtp := map[uint8]string{}
	for _, at := range md.Attributes {
		switch at.Key {
		case "rtpmap":
			if c, ok := parseRtpmap(at.Value); ok {
				rtpmap[c.PT] = c
			}
		case "fmtp":
			pt, rest, _ := strings.Cut(strings.TrimSpace(at.Value), " ")
			if n, ok := payloadType(pt); ok {
				fmtp[n] = strings.TrimSpace(rest)
			}
		case "ptime":
			if n, err := strconv.Atoi(strings.TrimSpace(at.Value)); err == nil && n > 0 && n <= 1000 {
				s.Ptime = n
			}
		case "rtcp":
			// RFC 3605: "a=rtcp:port [nettype addrtype address]".
			f := strings.Fields(at.Value)
			if len(f) == 0 {
				continue
			}
			n, err := strconv.ParseUint(f[0], 10, 16)
			if err != nil || n == 0 {
				continue
			}
			addr := ip
			if len(f) >= 4 {
				if a, err := netip.ParseAddr(f[3]); err == nil {
					addr = a.Unmap()
				}
			}
			s.RTCP = netip.AddrPortFrom(addr, uint16(n))
		}
	}
	for _, f := range md.MediaName.Formats {
		pt, ok := payloadType(f)
		if !ok {
			continue // not an RTP payload type; RFC 3264 section 6 lets us ignore it
		}
		c, ok := rtpmap[pt]
		if !ok {
			c, ok = staticPT(pt)
		}
		if !ok {
			continue // a dynamic type without rtpmap names nothing we can use
		}
		c.Fmtp = fmtp[pt]
		s.Codecs = append(s.Codecs, c)
	}
	return s, nil
}

// parseIP reads a c= address: a unicast IPv4 or IPv6 literal.
func parseIP(v string) (netip.Addr, error) {
	host, _, _ := strings.Cut(v, "/") // multicast "224.2.1.1/127"
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("parse sdp: %w: connection address %q is not an IP address", ErrMalformed, v)
	}
	ip = ip.Unmap()
	if ip.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("parse sdp: %w: connection address %s is a multicast group", ErrMalformed, ip)
	}
	return ip, nil
}

// payloadType reads an RTP payload type number, 0-127 (RFC 3550 section 5.1).
func payloadType(s string) (uint8, bool) {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n > 127 {
		return 0, false
	}
	return uint8(n), true
}

// parseRtpmap reads "96 opus/48000/2" (RFC 4566 section 6).
func parseRtpmap(v string) (Codec, bool) {
	pt, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return Codec{}, false
	}
	n, ok := payloadType(pt)
	if !ok {
		return Codec{}, false
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || parts[0] == "" {
		return Codec{}, false
	}
	clock, err := strconv.Atoi(parts[1])
	if err != nil || clock <= 0 {
		return Codec{}, false
	}
	c := Codec{PT: n, Name: parts[0], Clock: clock, Channels: 1}
	if len(parts) > 2 {
		if ch, err := strconv.Atoi(parts[2]); err == nil && ch > 0 {
			c.Channels = ch
		}
	}
	return c, true
}
