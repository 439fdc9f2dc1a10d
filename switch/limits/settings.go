package limits

import (
	"fmt"

	"github.com/dialtone/dialtone"
)

// Settings is the limits section of the configuration file: the limits of
// every account that sets none of its own (dialtone.DefaultLimits says
// why each default is what it is). Every key is documented in README.md;
// each may be "unlimited", countries may be ["*"].
type Settings struct {
	dialtone.LimitSettings `yaml:",inline"`
}

// DefaultSettings are dialtone.DefaultLimits, applied before the file is read.
func DefaultSettings() Settings {
	return Settings{dialtone.DefaultLimits().Settings()}
}

// Validate reports the first problem, naming its key under limits. Every
// limit must be named: "default" has no meaning here.
func (s Settings) Validate() error {
	if _, err := s.LimitSettings.Limits(true); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	return nil
}

// Defaults are the limits the section gives; call it on a validated section.
func (s Settings) Defaults() dialtone.Limits {
	l, _ := s.LimitSettings.Limits(true)
	return l
}
