package limits

import (
	"fmt"

	"github.com/dialtone/dialtone"
)

// Settings is the limits section of the configuration file: the limits of
// every account that sets none of its own (dialtone.DefaultLimits says
// why each default is what it is), and where calls are counted. Every key
// is documented in README.md; each limit may be "unlimited", countries
// may be ["*"].
type Settings struct {
	dialtone.LimitSettings `yaml:",inline"`
	// Counters is where the calls in progress and per minute of accounts,
	// and the carriers' channels, are counted: "memory" (this node only),
	// "store" (the store, shared by every node on it) or "auto" (the
	// store on PostgreSQL, memory on SQLite, which one node uses).
	Counters string `yaml:"counters"`
}

// Counter places.
const (
	CountersAuto   = "auto"
	CountersMemory = "memory"
	CountersStore  = "store"
)

// DefaultSettings are dialtone.DefaultLimits, applied before the file is
// read, counted where the store says (auto).
func DefaultSettings() Settings {
	return Settings{LimitSettings: dialtone.DefaultLimits().Settings(), Counters: CountersAuto}
}

// Validate reports the first problem, naming its key under limits. Every
// limit must be named: "default" has no meaning here.
func (s Settings) Validate() error {
	if _, err := s.LimitSettings.Limits(true); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	switch s.Counters {
	case CountersAuto, CountersMemory, CountersStore:
	default:
		return fmt.Errorf("limits.counters: %q is not auto, memory or store", s.Counters)
	}
	return nil
}

// Shared reports whether calls are counted in the store, for a store of
// engine (the store URL's scheme: sqlite or postgres).
func (s Settings) Shared(engine string) bool {
	return s.Counters == CountersStore || s.Counters == CountersAuto && engine == "postgres"
}

// Defaults are the limits the section gives; call it on a validated section.
func (s Settings) Defaults() dialtone.Limits {
	l, _ := s.LimitSettings.Limits(true)
	return l
}
