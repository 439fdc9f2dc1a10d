package guard

import (
	"fmt"
	"time"

	"github.com/dialtone/dialtone"
)

// Config tunes the guard. The zero value is not usable: start from
// Defaults and override.
type Config struct {
	// Allow lists addresses and CIDRs (carriers, monitoring) that are
	// never banned nor throttled.
	Allow []string `yaml:"allow"`
	// AllowTrunks adds the IP addresses written in the trunks' addresses
	// to Allow (host names and SRV are not resolved for it).
	AllowTrunks bool `yaml:"allow_trunks"`

	// Failures authentication failures from one source within Window ban
	// it for BanTime, doubled on each repeat up to MaxBanTime.
	Failures   int           `yaml:"failures"`
	Window     time.Duration `yaml:"window"`
	BanTime    time.Duration `yaml:"ban_time"`
	MaxBanTime time.Duration `yaml:"max_ban_time"`
	// StaleNonces is how many stale nonces a source may answer with within
	// Window before each further one counts as a failure: a client whose
	// nonce expired retries once, a replaying attacker keeps going.
	StaleNonces int `yaml:"stale_nonces"`

	// UserFailures failures on one username within Window, from any
	// sources, put it under attack for UserSlow: its attempts are then
	// let through at UserRate a second, the rest refused with 403.
	UserFailures int           `yaml:"user_failures"`
	UserSlow     time.Duration `yaml:"user_slow"`
	UserRate     float64       `yaml:"user_rate"`

	// Rate and Burst are the requests a second (datagrams on UDP) one
	// source may send; past them its requests are dropped (UDP) or
	// refused with 503 (streams). FloodBan requests over the rate within
	// Window ban the source.
	Rate     float64 `yaml:"rate"`
	Burst    int     `yaml:"burst"`
	FloodBan int     `yaml:"flood_ban"`

	// MaxConnections is how many TCP, TLS and WebSocket connections one
	// source may hold open at once, over all the stream listeners; past
	// it a new connection is closed at accept.
	MaxConnections int `yaml:"max_connections_per_source"`

	// MaxSources bounds the sources, usernames and bans kept in memory;
	// past it an arbitrary idle entry is forgotten.
	MaxSources int `yaml:"max_sources"`
}

// Defaults is the guard of someone who configured nothing.
//
// Ten failures in five minutes is far more than a person mistyping a
// password or a phone with a stale one (it retries once per registration
// interval) reaches, and far less than a password guesser needs. Fifteen
// minutes doubling to a day makes a guesser that comes back pay more each
// time. Fifty requests a second with a burst of a hundred leaves room for a
// phone registering several lines and retransmitting while a call is set
// up, and a PBX behind one address belongs on the allow-list anyway. A
// phone or a browser tab holds one connection; 64 from one address is an
// office behind one NAT, not one client, and keeps one peer from taking
// the process's file descriptors.
func Defaults() Config {
	return Config{
		AllowTrunks: true,
		Failures:    10, Window: 5 * time.Minute, BanTime: 15 * time.Minute, MaxBanTime: 24 * time.Hour,
		StaleNonces:  3,
		UserFailures: 20, UserSlow: time.Minute, UserRate: 1,
		Rate: 50, Burst: 100, FloodBan: 500,
		MaxConnections: 64,
		MaxSources:     100_000,
	}
}

// Validate reports the first problem, naming its key under guard.
func (c Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("guard.%s: %s", key, fmt.Sprintf(format, a...))
	}
	if _, err := dialtone.ParsePrefixes(c.Allow); err != nil {
		return bad("allow", "%v", err)
	}
	switch {
	case c.Failures < 1:
		return bad("failures", "%d is below 1", c.Failures)
	case c.Window < time.Second:
		return bad("window", "%v is shorter than 1s", c.Window)
	case c.BanTime < time.Second:
		return bad("ban_time", "%v is shorter than 1s", c.BanTime)
	case c.MaxBanTime < c.BanTime:
		return bad("max_ban_time", "%v is shorter than ban_time", c.MaxBanTime)
	case c.StaleNonces < 0:
		return bad("stale_nonces", "must not be negative")
	case c.UserFailures < 1:
		return bad("user_failures", "%d is below 1", c.UserFailures)
	case c.UserSlow < 0:
		return bad("user_slow", "must not be negative")
	case c.UserRate <= 0:
		return bad("user_rate", "must be positive")
	case c.Rate <= 0:
		return bad("rate", "must be positive")
	case c.Burst < 1:
		return bad("burst", "%d is below 1", c.Burst)
	case c.FloodBan < 1:
		return bad("flood_ban", "%d is below 1", c.FloodBan)
	case c.MaxConnections < 1:
		return bad("max_connections_per_source", "%d is below 1", c.MaxConnections)
	case c.MaxSources < 100:
		return bad("max_sources", "%d is below 100", c.MaxSources)
	}
	return nil
}
