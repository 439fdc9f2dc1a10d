package dialtone

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// BanReason is why a source was banned.
type BanReason string

// Ban is a source address the SIP guard refuses until Until. A ban that has
// ended is kept a while, so that a source coming back is banned for longer.
type Ban struct {
	Addr     netip.Addr `json:"addr"`
	Reason   BanReason  `json:"reason"`
	Since    time.Time  `json:"since"`
	Until    time.Time  `json:"until"`
	Failures int        `json:"failures"` // failures or requests over the rate that led to it
	Count    int        `json:"count"`    // this source's bans in a row, 1 for the first
}

// Active reports whether the ban is in force at now.
func (b Ban) Active(now time.Time) bool { return now.Before(b.Until) }

// BanStore keeps the guard's bans, one per address, across restarts and
// nodes.
type BanStore interface {
	// SaveBan inserts b, or replaces the ban of b.Addr.
	SaveBan(ctx context.Context, b Ban) error
	// DeleteBan forgets the ban of addr; forgetting none is no error.
	DeleteBan(ctx context.Context, addr netip.Addr) error
	// Bans returns every ban kept, ended ones too, ordered by address.
	Bans(ctx context.Context) ([]Ban, error)
}

// NonceStore keeps, for each digest nonce used, the highest nonce count it
// was used with (RFC 7616 section 3.4), shared by the nodes that accept
// each other's nonces.
type NonceStore interface {
	// UseNonce records nc for nonce, kept until expires, and reports ok
	// when nc is higher than every count used before with nonce (any count
	// is higher than none); otherwise it changes nothing. Concurrent uses
	// of one (nonce, nc) report ok once.
	UseNonce(ctx context.Context, nonce string, nc uint32, expires time.Time) (ok bool, err error)
	// PurgeNonces forgets the nonces that expire at or before before and
	// returns how many it forgot.
	PurgeNonces(ctx context.Context, before time.Time) (int64, error)
}

// ParsePrefixes reads a list of addresses ("192.0.2.1", "2001:db8::1") and
// CIDRs ("192.0.2.0/24") as written in configuration: the guard's
// allow-list, the trusted proxies. An address is a prefix of its full
// length; an IPv4-mapped IPv6 address is read as IPv4, and a CIDR written
// that way is refused (it would never match).
func ParsePrefixes(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, s := range entries {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR", s)
			}
			if p.Addr().Is4In6() {
				return nil, fmt.Errorf("%q: write an IPv4 CIDR as IPv4", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
