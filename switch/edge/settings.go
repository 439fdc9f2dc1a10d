package edge

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dialtone/dialtone/switch/digest"
)

// Settings is the edge's part of the sip section of the configuration
// file: where SIP is served and how callers authenticate. Every key is
// documented in README.md. DefaultSettings gives the defaults; Validate
// checks a decoded section and changes nothing.
type Settings struct {
	Realm      string           `yaml:"realm"`
	Listen     []ListenSettings `yaml:"listen"`
	TLSCert    string           `yaml:"tls_cert"`    // PEM certificate chain of tls and wss listeners
	TLSKey     string           `yaml:"tls_key"`     // its PEM private key
	NonceTTL   time.Duration    `yaml:"nonce_ttl"`   // how long a digest challenge may be answered
	AuthSecret string           `yaml:"auth_secret"` // signs nonces, and keys app credentials; see README
	// AuthAlgs are the challenges sent over udp, tcp and tls, in order.
	// The default is MD5 alone: every client knows it, while clients that
	// do not know SHA-256 fail on a second challenge in several ways
	// (baresip 1.0.0 gives up on any challenge it cannot answer, sipp and
	// older phones read the first, JsSIP and SIP.js the last). RFC 8760
	// clients still answer MD5; list SHA-256 where every client knows it.
	AuthAlgs   []digest.Algorithm `yaml:"auth_algorithms"`
	WSAuthAlgs []digest.Algorithm `yaml:"ws_auth_algorithms"` // challenge order for WebSocket clients
	MaxExpires int                `yaml:"register_max_expires"`
	// AccountCacheTTL is how long an account read for authentication is
	// reused; a disabled account takes effect within it (devices are not cached).
	AccountCacheTTL time.Duration `yaml:"account_cache_ttl"`
	// HandshakeTimeout is how long a TCP, TLS or WebSocket connection may
	// take, from accept, to finish its handshakes and send its first SIP
	// request. TCPIdleTimeout closes such a connection once it has passed
	// since its last request, the end of its registration and the longest
	// end of a call that came over it.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	TCPIdleTimeout   time.Duration `yaml:"tcp_idle_timeout"`
	// AppCredentialTTL is the lifetime of the app credentials the API
	// issues to a signed-in app; the edge refuses any that expire further
	// ahead (and a minute).
	AppCredentialTTL time.Duration `yaml:"app_credential_ttl"`
}

// ListenSettings is one SIP listener.
type ListenSettings struct {
	Transport string `yaml:"transport"` // udp, tcp, tls, ws, wss
	Addr      string `yaml:"addr"`      // IP:port
}

// Transports are the listener transports the edge serves.
var Transports = []string{"udp", "tcp", "tls", "ws", "wss"}

// DefaultSettings are the edge's defaults, applied before the file is read.
func DefaultSettings() Settings {
	return Settings{
		Realm:            "dialtone",
		Listen:           []ListenSettings{{Transport: "udp", Addr: "0.0.0.0:5060"}, {Transport: "tcp", Addr: "0.0.0.0:5060"}},
		NonceTTL:         5 * time.Minute,
		AuthAlgs:         []digest.Algorithm{digest.MD5},
		WSAuthAlgs:       []digest.Algorithm{digest.MD5},
		MaxExpires:       3600,
		AccountCacheTTL:  2 * time.Second,
		HandshakeTimeout: 10 * time.Second,
		TCPIdleTimeout:   2 * time.Minute,
		AppCredentialTTL: time.Hour,
	}
}

// Validate reports the first problem, naming its key (sip.*).
func (s Settings) Validate() error {
	if s.Realm == "" {
		return fmt.Errorf("sip.realm: must not be empty")
	}
	if len(s.Listen) == 0 {
		return fmt.Errorf("sip.listen: needs at least one listener")
	}
	for i, l := range s.Listen {
		key := fmt.Sprintf("sip.listen[%d]", i)
		if !slices.Contains(Transports, l.Transport) {
			return fmt.Errorf("%s.transport: %q is not one of udp, tcp, tls, ws, wss", key, l.Transport)
		}
		if (l.Transport == "tls" || l.Transport == "wss") && (s.TLSCert == "" || s.TLSKey == "") {
			return fmt.Errorf("%s.transport: %s needs sip.tls_cert and sip.tls_key", key, l.Transport)
		}
		if _, err := netip.ParseAddrPort(l.Addr); err != nil {
			return fmt.Errorf("%s.addr: %q is not IP:port", key, l.Addr)
		}
	}
	if s.NonceTTL < 10*time.Second {
		return fmt.Errorf("sip.nonce_ttl: %v is shorter than 10s", s.NonceTTL)
	}
	for _, k := range []struct {
		key  string
		algs []digest.Algorithm
	}{{"sip.auth_algorithms", s.AuthAlgs}, {"sip.ws_auth_algorithms", s.WSAuthAlgs}} {
		if len(k.algs) == 0 {
			return fmt.Errorf("%s: needs at least one of MD5, SHA-256", k.key)
		}
		for _, a := range k.algs {
			if a != digest.MD5 && a != digest.SHA256 {
				return fmt.Errorf("%s: %q is not MD5 or SHA-256", k.key, a)
			}
		}
	}
	if s.MaxExpires < 60 {
		return fmt.Errorf("sip.register_max_expires: %d is below 60 seconds", s.MaxExpires)
	}
	if s.AccountCacheTTL < 0 || s.AccountCacheTTL > time.Minute {
		return fmt.Errorf("sip.account_cache_ttl: %v is outside 0-1m", s.AccountCacheTTL)
	}
	if s.HandshakeTimeout < time.Second || s.HandshakeTimeout > 5*time.Minute {
		return fmt.Errorf("sip.handshake_timeout: %v is outside 1s-5m", s.HandshakeTimeout)
	}
	if s.TCPIdleTimeout < time.Second || s.TCPIdleTimeout > 24*time.Hour {
		return fmt.Errorf("sip.tcp_idle_timeout: %v is outside 1s-24h", s.TCPIdleTimeout)
	}
	if s.AppCredentialTTL < 2*time.Second || s.AppCredentialTTL > 24*time.Hour {
		return fmt.Errorf("sip.app_credential_ttl: %v is outside 2s-24h", s.AppCredentialTTL)
	}
	return nil
}
