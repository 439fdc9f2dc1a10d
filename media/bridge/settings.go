package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/media/codec"
	"github.com/dialtone/dialtone/media/rtp"
)

// Settings is the media section of the configuration file: the RTP port
// range and addresses, the media timeout, strict RTP, the WebRTC leg and
// the Opus encoder. Every key is documented in README.md. DefaultSettings gives the
// defaults; Validate checks a decoded section and changes nothing.
type Settings struct {
	Bind      string           `yaml:"bind"`      // IPv4 the RTP sockets bind to
	Advertise string           `yaml:"advertise"` // IPv4 written into SDP
	PortMin   int              `yaml:"port_min"`  // RTP/RTCP port range, both ends inclusive
	PortMax   int              `yaml:"port_max"`
	Timeout   time.Duration    `yaml:"timeout"`    // no RTP on either leg for this long ends the call
	StrictRTP rtp.Strict       `yaml:"strict_rtp"` // which sources a plain RTP leg takes media from
	WebRTC    WebRTCSettings   `yaml:"webrtc"`
	Opus      codec.OpusConfig `yaml:"opus"`
}

// WebRTCSettings is the browsers' media leg: ICE, DTLS-SRTP, all on one UDP port.
type WebRTCSettings struct {
	Listen           string        `yaml:"listen"`            // IPv4:port of the one UDP socket all WebRTC media uses; empty: browsers' offers get 488
	Advertise        []string      `yaml:"advertise"`         // NAT 1:1: public IPv4s put in ICE candidates; empty: the interface addresses
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"` // ICE + DTLS must complete within this after the answer
}

// DefaultSettings are the media defaults, applied before the file is read.
func DefaultSettings() Settings {
	return Settings{
		Bind: "0.0.0.0", Advertise: "127.0.0.1",
		PortMin: 20000, PortMax: 29999,
		Timeout:   30 * time.Second,
		StrictRTP: rtp.DefaultStrict(),
		WebRTC:    WebRTCSettings{HandshakeTimeout: 10 * time.Second},
		Opus:      codec.DefaultOpusConfig(),
	}
}

// Validate reports the first problem, naming its key (media.*).
func (s Settings) Validate() error {
	if ip := net.ParseIP(s.Bind); ip == nil || ip.To4() == nil {
		return fmt.Errorf("media.bind: %q is not an IPv4 address", s.Bind)
	}
	if ip := net.ParseIP(s.Advertise); ip == nil || ip.To4() == nil || ip.IsUnspecified() {
		return fmt.Errorf("media.advertise: %q is not a usable IPv4 address", s.Advertise)
	}
	if s.PortMin < 1024 || s.PortMin > 65534 {
		return fmt.Errorf("media.port_min: %d is outside 1024-65534", s.PortMin)
	}
	if s.PortMax <= s.PortMin+2 || s.PortMax > 65535 {
		return fmt.Errorf("media.port_max: %d must be above media.port_min+2 and at most 65535", s.PortMax)
	}
	if s.Timeout < time.Second {
		return fmt.Errorf("media.timeout: %v is shorter than 1s", s.Timeout)
	}
	if p := s.StrictRTP.Probation; p < 2 || p > 32 {
		return fmt.Errorf("media.strict_rtp.probation: %d is outside 2-32", p)
	}
	if q := s.StrictRTP.Quiet; q < 100*time.Millisecond || q > 30*time.Second {
		return fmt.Errorf("media.strict_rtp.quiet: %v is outside 100ms-30s", q)
	}
	if w := s.WebRTC; w.Listen != "" {
		ap, err := netip.ParseAddrPort(w.Listen)
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			return fmt.Errorf("media.webrtc.listen: %q is not IPv4:port with a port", w.Listen)
		}
		if int(ap.Port()) >= s.PortMin && int(ap.Port()) <= s.PortMax {
			return fmt.Errorf("media.webrtc.listen: port %d is inside media.port_min-port_max, which the RTP legs use", ap.Port())
		}
		for i, a := range w.Advertise {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() || ip.IsUnspecified() {
				return fmt.Errorf("media.webrtc.advertise[%d]: %q is not a usable IPv4 address", i, a)
			}
		}
		if w.HandshakeTimeout < time.Second {
			return fmt.Errorf("media.webrtc.handshake_timeout: %v is shorter than 1s", w.HandshakeTimeout)
		}
	}
	o := s.Opus
	if o.Bitrate < 6000 || o.Bitrate > 510000 {
		return fmt.Errorf("media.opus.bitrate: %d is outside 6000-510000", o.Bitrate)
	}
	if o.Complexity < 0 || o.Complexity > 10 {
		return fmt.Errorf("media.opus.complexity: %d is outside 0-10", o.Complexity)
	}
	if o.PacketLoss < 0 || o.PacketLoss > 100 {
		return fmt.Errorf("media.opus.packet_loss: %d is outside 0-100", o.PacketLoss)
	}
	return nil
}
