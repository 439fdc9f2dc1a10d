// Package sdp reads and writes the session descriptions of the calls the
// switch carries (RFC 4566), and does the codec part of the offer/answer
// model (RFC 3264). The grammar is parsed by pion/sdp; this package pulls
// out the first audio stream and builds the SDP the switch sends, which
// carries only the switch's own address (topology hiding).
//
// Everything here is a pure function of its input; safe for concurrent use.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// Errors of Parse and Negotiate.
var (
	ErrMalformed = errors.New("malformed sdp")
	ErrNoAudio   = errors.New("no audio stream")
	ErrNoCodec   = errors.New("no common codec")
)

// Direction is the media direction attribute (RFC 3264 section 5.1).
type Direction string

const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// Codec is one payload format of an audio stream.
type Codec struct {
	PT       uint8
	Name     string // as in rtpmap, e.g. "PCMU", "telephone-event"
	Clock    int
	Channels int
	Fmtp     string
}

// Is reports whether c is the named codec at the given clock rate (0: any).
func (c Codec) Is(name string, clock int) bool {
	return strings.EqualFold(c.Name, name) && (clock == 0 || c.Clock == clock)
}

// Audio is the first audio stream of a session description.
type Audio struct {
	Addr      netip.AddrPort // where to send RTP; the address is unspecified for an old-style hold (c=0.0.0.0)
	RTCP      netip.AddrPort // where to send RTCP (a=rtcp, RFC 3605, or RTP port + 1)
	Proto     string         // e.g. "RTP/AVP", "UDP/TLS/RTP/SAVPF"
	Codecs    []Codec        // in the order of the m= line
	Direction Direction
	Ptime     int // milliseconds; 0 when absent
}

// static payload types of RFC 3551 table 4 that an rtpmap may omit.
var static = map[uint8]Codec{
	0:  {PT: 0, Name: "PCMU", Clock: 8000, Channels: 1},
	8:  {PT: 8, Name: "PCMA", Clock: 8000, Channels: 1},
	9:  {PT: 9, Name: "G722", Clock: 8000, Channels: 1},
	18: {PT: 18, Name: "G729", Clock: 8000, Channels: 1},
}

// Parse reads b and returns its first audio stream.
func Parse(b []byte) (*Audio, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	var sd psdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		return audio(&sd, md)
	}
	return nil, ErrNoAudio
}

func audio(sd *psdp.SessionDescription, md *psdp.MediaDescription) (*Audio, error) {
	port := md.MediaName.Port.Value
	if port == 0 {
		return nil, fmt.Errorf("%w: audio stream rejected (port 0)", ErrNoAudio)
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrMalformed, port)
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return nil, fmt.Errorf("%w: no c= line", ErrMalformed)
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return nil, fmt.Errorf("%w: connection address %q is not an IP address", ErrMalformed, ci.Address.Address)
	}
	a := &Audio{
		Addr:      netip.AddrPortFrom(ip.Unmap(), uint16(port)),
		Proto:     strings.Join(md.MediaName.Protos, "/"),
		Direction: SendRecv,
	}
	a.RTCP = netip.AddrPortFrom(a.Addr.Addr(), uint16(port+1))

	rtpmap := map[uint8]Codec{}
	fmtp := map[uint8]string{}
	direction := func(attrs []psdp.Attribute) {
		for _, at := range attrs {
			switch Direction(at.Key) {
			case SendRecv, SendOnly, RecvOnly, Inactive:
				a.Direction = Direction(at.Key)
			}
		}
	}
	direction(sd.Attributes)
	direction(md.Attributes)
	for _, at := range md.Attributes {
		switch at.Key {
		case "rtpmap":
			if c, ok := parseRtpmap(at.Value); ok {
				rtpmap[c.PT] = c
			}
		case "fmtp":
			pt, rest, ok := strings.Cut(at.Value, " ")
			if n, err := strconv.ParseUint(pt, 10, 8); ok && err == nil {
				fmtp[uint8(n)] = strings.TrimSpace(rest)
			}
		case "ptime":
			if n, err := strconv.Atoi(strings.TrimSpace(at.Value)); err == nil && n > 0 && n <= 1000 {
				a.Ptime = n
			}
		case "rtcp":
			f := strings.Fields(at.Value)
			if len(f) > 0 {
				if n, err := strconv.ParseUint(f[0], 10, 16); err == nil && n > 0 {
					addr := a.Addr.Addr()
					if len(f) >= 4 {
						if ip, err := netip.ParseAddr(f[3]); err == nil {
							addr = ip.Unmap()
						}
					}
					a.RTCP = netip.AddrPortFrom(addr, uint16(n))
				}
			}
		}
	}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil || n > 127 {
			continue // not an RTP payload type; ignore, as RFC 3264 lets us
		}
		pt := uint8(n)
		c, ok := rtpmap[pt]
		if !ok {
			c, ok = static[pt]
		}
		if !ok {
			continue
		}
		c.Fmtp = fmtp[pt]
		a.Codecs = append(a.Codecs, c)
	}
	return a, nil
}

// parseRtpmap reads "96 opus/48000/2".
func parseRtpmap(v string) (Codec, bool) {
	pt, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return Codec{}, false
	}
	n, err := strconv.ParseUint(pt, 10, 8)
	if err != nil || n > 127 {
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
	c := Codec{PT: uint8(n), Name: parts[0], Clock: clock, Channels: 1}
	if len(parts) > 2 {
		if ch, err := strconv.Atoi(parts[2]); err == nil && ch > 0 {
			c.Channels = ch
		}
	}
	return c, true
}

// Find returns the first codec of a with the given name and clock (0: any).
func (a *Audio) Find(name string, clock int) (Codec, bool) {
	for _, c := range a.Codecs {
		if c.Is(name, clock) {
			return c, true
		}
	}
	return Codec{}, false
}

// Negotiate picks, per RFC 3264 section 6.1, the first audio codec of the
// offer that is in supported, and the offer's telephone-event at the same
// clock rate (RFC 4733) if any. The answer keeps the offerer's payload types.
func Negotiate(offer *Audio, supported []string) (audio Codec, dtmf *Codec, err error) {
	for _, c := range offer.Codecs {
		for _, name := range supported {
			if c.Is(name, 0) {
				audio = c
				goto found
			}
		}
	}
	return Codec{}, nil, fmt.Errorf("%w: offer has %s, we take %s", ErrNoCodec, names(offer.Codecs), strings.Join(supported, ", "))
found:
	if te, ok := offer.Find("telephone-event", audio.Clock); ok {
		dtmf = &te
	}
	return audio, dtmf, nil
}

func names(cs []Codec) string {
	if len(cs) == 0 {
		return "no codec"
	}
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Name + "/" + strconv.Itoa(c.Clock)
	}
	return strings.Join(s, ", ")
}

// Description is an SDP the switch sends: one audio stream on our address.
type Description struct {
	SessionID uint64
	Version   uint64         // increment on every new offer or answer in a session
	Addr      netip.AddrPort // our RTP address
	Codecs    []Codec        // payload formats in order of preference
	Direction Direction      // sendrecv when empty
	Ptime     int            // 20 when zero
}

// Marshal writes d as SDP text with CRLF line ends.
func (d Description) Marshal() []byte {
	ip := d.Addr.Addr()
	fam := "IP4"
	if ip.Is6() {
		fam = "IP6"
	}
	var b strings.Builder
	b.Grow(256)
	fmt.Fprintf(&b, "v=0\r\no=dialtone %d %d IN %s %s\r\ns=dialtone\r\nc=IN %s %s\r\nt=0 0\r\n", d.SessionID, d.Version, fam, ip, fam, ip)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", d.Addr.Port())
	for _, c := range d.Codecs {
		fmt.Fprintf(&b, " %d", c.PT)
	}
	b.WriteString("\r\n")
	for _, c := range d.Codecs {
		if c.Channels > 1 {
			fmt.Fprintf(&b, "a=rtpmap:%d %s/%d/%d\r\n", c.PT, c.Name, c.Clock, c.Channels)
		} else {
			fmt.Fprintf(&b, "a=rtpmap:%d %s/%d\r\n", c.PT, c.Name, c.Clock)
		}
		if c.Fmtp != "" {
			fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", c.PT, c.Fmtp)
		}
	}
	ptime := d.Ptime
	if ptime == 0 {
		ptime = 20
	}
	dir := d.Direction
	if dir == "" {
		dir = SendRecv
	}
	fmt.Fprintf(&b, "a=ptime:%d\r\na=%s\r\n", ptime, dir)
	return []byte(b.String())
}
