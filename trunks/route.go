package trunks

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// Trunk is a carrier's SIP entry point.
type Trunk struct {
	Name      string
	Address   string // host:port
	Transport string // udp or tcp
	Codecs    []string
}

// Validate reports the first problem, naming the field.
func (t Trunk) Validate() error {
	if t.Name == "" {
		return fmt.Errorf("trunk: name is empty")
	}
	if _, _, err := net.SplitHostPort(t.Address); err != nil {
		return fmt.Errorf("trunk %s: address %q is not host:port", t.Name, t.Address)
	}
	if t.Transport != "udp" && t.Transport != "tcp" {
		return fmt.Errorf("trunk %s: transport %q is not udp or tcp", t.Name, t.Transport)
	}
	return nil
}

// Route sends numbers starting with Prefix (E.164 digits without '+') and
// of one of Types (any when empty) to Trunks, tried in order.
type Route struct {
	Prefix string
	Types  []NumberType
	Trunks []string
}

// Table finds the route of a number by longest prefix.
type Table struct {
	byPrefix map[string][]Route // routes sharing a prefix, most specific types first
	maxLen   int
}

// NewTable checks routes and indexes them.
func NewTable(routes []Route) (*Table, error) {
	t := &Table{byPrefix: map[string][]Route{}}
	for i, r := range routes {
		if strings.Trim(r.Prefix, "0123456789") != "" {
			return nil, fmt.Errorf("route %d: prefix %q is not digits", i, r.Prefix)
		}
		if len(r.Trunks) == 0 || slices.Contains(r.Trunks, "") {
			return nil, fmt.Errorf("route %d (prefix %q): needs trunk names", i, r.Prefix)
		}
		for _, other := range t.byPrefix[r.Prefix] {
			if overlaps(other.Types, r.Types) {
				return nil, fmt.Errorf("route %d: prefix %q with types %v is already routed", i, r.Prefix, r.Types)
			}
		}
		t.byPrefix[r.Prefix] = append(t.byPrefix[r.Prefix], r)
		t.maxLen = max(t.maxLen, len(r.Prefix))
	}
	for _, rs := range t.byPrefix {
		// Routes naming types are checked before the catch-all of the same prefix.
		slices.SortStableFunc(rs, func(a, b Route) int { return len(b.Types) - len(a.Types) })
	}
	return t, nil
}

func overlaps(a, b []NumberType) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == 0 && len(b) == 0
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// Lookup returns the trunk names for n, in the order to try them.
func (t *Table) Lookup(n Number) ([]string, error) {
	digits := strings.TrimPrefix(n.E164, "+")
	for l := min(len(digits), t.maxLen); l >= 0; l-- {
		for _, r := range t.byPrefix[digits[:l]] {
			// Premium-rate numbers are a fraud magnet: only a route that names
			// them carries them, never a catch-all.
			if slices.Contains(r.Types, n.Type) || len(r.Types) == 0 && n.Type != Premium {
				return r.Trunks, nil
			}
		}
	}
	if n.Type == Premium {
		return nil, fmt.Errorf("route %s: %w", n.E164, ErrPremium)
	}
	return nil, fmt.Errorf("route %s (%s): %w", n.E164, n.Type, ErrNoRoute)
}
