package web

import (
	"fmt"
	"net/url"
)

// Settings is the web section of the configuration file: whether the
// dialer page is served, and where it signs in. DefaultSettings gives the
// defaults; Validate checks a decoded section and changes nothing.
type Settings struct {
	Enabled bool   `yaml:"enabled"`
	SIPURL  string `yaml:"sip_url"` // ws:// or wss:// URL the page uses; empty: the page's host and the first ws/wss listener's port
}

// DefaultSettings serve the page.
func DefaultSettings() Settings { return Settings{Enabled: true} }

// Validate reports the first problem, naming its key (web.*).
func (s Settings) Validate() error {
	if u := s.SIPURL; u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "ws" && p.Scheme != "wss") || p.Host == "" {
			return fmt.Errorf("web.sip_url: %q is not a ws:// or wss:// URL", u)
		}
	}
	return nil
}
