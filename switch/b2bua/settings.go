package b2bua

import (
	"fmt"
	"strings"
	"time"
)

// Settings is the call controller's part of the sip section of the
// configuration file: how the switch presents itself to carriers and how
// long it lets them ring. DefaultSettings gives the defaults; Validate
// checks a decoded section and changes nothing.
type Settings struct {
	Advertise   string        `yaml:"advertise"`    // host or IP peers reach us at
	UserAgent   string        `yaml:"user_agent"`   // sent to carriers in place of the app's
	RingTimeout time.Duration `yaml:"ring_timeout"` // how long a carrier may ring before we give up
}

// DefaultSettings are the call controller's defaults, applied before the
// file is read.
func DefaultSettings() Settings {
	return Settings{Advertise: "127.0.0.1", UserAgent: "Dialtone", RingTimeout: 120 * time.Second}
}

// Validate reports the first problem, naming its key (sip.*).
func (s Settings) Validate() error {
	if s.Advertise == "" || strings.ContainsAny(s.Advertise, " :/") {
		return fmt.Errorf("sip.advertise: %q is not a host name or IPv4 address", s.Advertise)
	}
	if s.RingTimeout < time.Second {
		return fmt.Errorf("sip.ring_timeout: %v is shorter than 1s", s.RingTimeout)
	}
	return nil
}
