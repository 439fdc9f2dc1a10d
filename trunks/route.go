package trunks

import (
	"fmt"
	"slices"
	"strings"
)

// Route sends numbers starting with Prefix (E.164 digits without '+') and
// of one of Types (any when empty) to Trunks, tried in order.
type Route struct {
	Prefix    string
	Types     []NumberType
	Trunks    []string
	LeastCost bool  // order Trunks by price for the number (see OrderByCost)
	Shares    []int // weights of Trunks for the first try (see Share); empty: in order
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
		if len(r.Shares) > 0 && (len(r.Shares) != len(r.Trunks) || slices.ContainsFunc(r.Shares, func(w int) bool { return w < 0 })) {
			return nil, fmt.Errorf("route %d (prefix %q): shares %v need one weight, not negative, per trunk", i, r.Prefix, r.Shares)
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
	r, err := t.Route(n)
	return r.Trunks, err
}

// Route returns the route that carries n: the longest prefix whose types
// include n's type (or that names no types, except for premium numbers).
func (t *Table) Route(n Number) (Route, error) {
	digits := strings.TrimPrefix(n.E164, "+")
	for l := min(len(digits), t.maxLen); l >= 0; l-- {
		for _, r := range t.byPrefix[digits[:l]] {
			// Premium-rate numbers are a fraud magnet: only a route that names
			// them carries them, never a catch-all.
			if slices.Contains(r.Types, n.Type) || len(r.Types) == 0 && n.Type != Premium {
				return r, nil
			}
		}
	}
	if n.Type == Premium {
		return Route{}, &BlockedError{Number: n.E164, Rule: premiumRule}
	}
	return Route{}, fmt.Errorf("route %s (%s): %w", n.E164, n.Type, ErrNoRoute)
}

// OrderByCost sorts trunk names cheapest first by price, which gives a
// trunk's rate for the number being routed. Trunks without a price keep
// their order after those with one: the route's order is the tie-break.
func OrderByCost[P interface{ LessThan(P) bool }](names []string, price func(trunk string) (P, bool)) []string {
	type priced struct {
		name string
		p    P
		ok   bool
	}
	ps := make([]priced, len(names))
	for i, n := range names {
		p, ok := price(n)
		ps[i] = priced{n, p, ok}
	}
	slices.SortStableFunc(ps, func(a, b priced) int {
		switch {
		case a.ok && !b.ok:
			return -1
		case !a.ok && b.ok:
			return 1
		case a.ok && b.ok && a.p.LessThan(b.p):
			return -1
		case a.ok && b.ok && b.p.LessThan(a.p):
			return 1
		}
		return 0
	})
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name
	}
	return out
}

// Rewrite turns an E.164 number into the Request-URI user a carrier wants:
// strip leading digits, then add prefix, then the tech prefix in front.
func Rewrite(e164 string, strip int, prefix, techPrefix string) string {
	d := strings.TrimPrefix(e164, "+")
	d = d[min(max(strip, 0), len(d)):]
	return techPrefix + prefix + d
}

// Share puts first the trunk that a weighted draw picks (weights[i] is
// names[i]'s share; u is uniform in [0, 1)), and keeps the others in their
// order behind it for failover. With no positive weight it changes nothing.
func Share(names []string, weights []int, u float64) []string {
	total := 0
	for i := range names {
		if i < len(weights) && weights[i] > 0 {
			total += weights[i]
		}
	}
	if total == 0 {
		return names
	}
	x := int(u * float64(total))
	pick := 0
	for i := range names {
		if i < len(weights) && weights[i] > 0 {
			if x < weights[i] {
				pick = i
				break
			}
			x -= weights[i]
		}
	}
	out := make([]string, 0, len(names))
	out = append(out, names[pick])
	out = append(out, names[:pick]...)
	return append(out, names[pick+1:]...)
}
