package sdp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
)

// Username is the o= user name of every description the switch writes.
const Username = "dialtone"

// DTMFEvents is the fmtp written for telephone-event when the codec has
// none: the DTMF digits 0-9, *, #, A-D and flash (RFC 4733 section 3.2).
const DTMFEvents = "0-16"

// Description is an SDP the switch sends: one audio stream on our address.
// It names only the switch, never the other leg (topology hiding).
type Description struct {
	SessionID uint64         // o= session id; a Builder sets it
	Version   uint64         // o= version; a Builder sets it
	Addr      netip.AddrPort // our RTP address (c= and m= port)
	Codecs    []Codec        // payload formats in order of preference, telephone-event included
	Direction Direction      // sendrecv when empty
	Ptime     int            // milliseconds; 20 when zero
	RTCPPort  uint16         // when non-zero, a=rtcp:<port> (RFC 3605); peers assume RTP port + 1 without it
}

// Marshal writes d as SDP text (RFC 4566) with CRLF line ends: origin
// "dialtone", profile RTP/AVP, an rtpmap for every codec, fmtp where the
// codec has one ("0-16" for a telephone-event without), a=ptime and the
// direction. d.Addr must be a valid address and d.Codecs not empty; Build
// checks that.
func (d Description) Marshal() []byte {
	ip := d.Addr.Addr()
	fam := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		fam = "IP6"
	}
	ip = ip.Unmap()
	var b strings.Builder
	b.Grow(320)
	fmt.Fprintf(&b, "v=0\r\no=%s %d %d IN %s %s\r\ns=%s\r\nc=IN %s %s\r\nt=0 0\r\n",
		Username, d.SessionID, d.Version, fam, ip, Username, fam, ip)
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
		fmtp := c.Fmtp
		if fmtp == "" && c.Is("telephone-event", 0) {
			fmtp = DTMFEvents
		}
		if fmtp != "" {
			fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", c.PT, fmtp)
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
	fmt.Fprintf(&b, "a=ptime:%d\r\n", ptime)
	if d.RTCPPort != 0 {
		fmt.Fprintf(&b, "a=rtcp:%d\r\n", d.RTCPPort)
	}
	fmt.Fprintf(&b, "a=%s\r\n", dir)
	return []byte(b.String())
}

// Builder writes the descriptions the switch sends to one party over one
// dialog, offers and answers alike. It keeps the o= line as RFC 3264
// section 8 wants: the session id never changes, and the version goes up by
// one each time the description differs from the one sent before; a
// description sent again unchanged (the answer in a 183 then in the 200,
// RFC 6337 section 3.1) keeps its version. Use one Builder per leg.
//
// The zero value is ready to use and picks a random session id on first
// use. A Builder is safe for concurrent use.
type Builder struct {
	mu      sync.Mutex
	id      uint64
	version uint64
	last    []byte // the previous description, with version 0
}

// NewBuilder returns a Builder whose session id is id (0: random).
func NewBuilder(id uint64) *Builder { return &Builder{id: id} }

// Build checks d, sets its session id and version (ignoring those d has)
// and returns it as SDP text. The error names the bad field and wraps
// ErrMalformed: no address or port, no codec, an unknown direction.
func (b *Builder) Build(d Description) ([]byte, error) {
	if !d.Addr.IsValid() || d.Addr.Port() == 0 {
		return nil, fmt.Errorf("build sdp: %w: our address %v is not an IP address and port", ErrMalformed, d.Addr)
	}
	if len(d.Codecs) == 0 {
		return nil, fmt.Errorf("build sdp: %w: no codec", ErrMalformed)
	}
	switch d.Direction {
	case "", SendRecv, SendOnly, RecvOnly, Inactive:
	default:
		return nil, fmt.Errorf("build sdp: %w: direction %q", ErrMalformed, d.Direction)
	}
	for _, c := range d.Codecs {
		if c.PT > 127 || c.Name == "" || c.Clock <= 0 || strings.ContainsAny(c.Name+c.Fmtp, "\r\n") {
			return nil, fmt.Errorf("build sdp: %w: codec %d %q/%d", ErrMalformed, c.PT, c.Name, c.Clock)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.id == 0 {
		b.id = rand.Uint64()>>2 + 1 // positive in an int64, for parsers that read it as one
	}
	d.SessionID, d.Version = b.id, 0
	body := d.Marshal()
	if b.version == 0 || !bytes.Equal(body, b.last) {
		b.version++
		b.last = body
	}
	d.Version = b.version
	return d.Marshal(), nil
}

// Origin returns the session id and the version of the last description
// built (0 before the first).
func (b *Builder) Origin() (sessionID, version uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.id, b.version
}
