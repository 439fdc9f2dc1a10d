package edge

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
)

// Who sent a request. Directly connected, it is the socket's peer. Behind
// a SIP front proxy (the Kamailio load balancer of configs/kamailio), the
// socket's peer is the front for every client, so the front names the
// client in SourceHeader. That header is believed only when the socket's
// peer is one of the configured trusted proxies (sip.trusted_proxies); from
// anyone else it is a forgery and is removed before anything reads it.
// This file is the one place that rule lives: the guard's request limits
// and failure counts, the digest nonce binding, the challenge algorithms
// offered to WebSocket clients and the logs all take the Source it gives.
//
// What stays with the socket's peer: the connection tracking (conns.go)
// and the guard's socket wrappers (package guard's PacketConn, Listener),
// which see the front. A front's address is therefore added to the
// guard's allow-list (cmd/dialtone), and the per-request limits are taken
// here, per real source, instead (Edge.admit).

// SourceHeader carries, from a trusted front proxy, the address and
// transport the front received the request from: "IP:port;transport",
// an IPv6 address in brackets, the transport one of udp, tcp, tls, ws,
// wss. For example "203.0.113.7:50312;ws".
const SourceHeader = "X-Dialtone-Source"

// maxSourceHeader bounds the header's value: "[v6]:65535;tcp" fits with
// room to spare.
const maxSourceHeader = 64

// Source is where a request really came from.
type Source struct {
	Addr      netip.AddrPort // the client's address, its IP unmapped
	Transport string         // the client's transport: udp, tcp, tls, ws, wss
	// Front is true when a trusted front proxy relayed the request and
	// named the client in SourceHeader.
	Front bool
	raw   string // req.Source() when it is no IP:port
}

// IP is the client's IP address.
func (s Source) IP() netip.Addr { return s.Addr.Addr() }

// String is the client's IP:port, as req.Source() writes it.
func (s Source) String() string {
	if !s.Addr.IsValid() {
		return s.raw
	}
	return s.Addr.String()
}

// ErrBadSource refuses a request from a trusted front proxy whose
// SourceHeader is missing, repeated or not IP:port;transport.
var ErrBadSource = errors.New("bad " + SourceHeader)

// sources decides the real source of requests.
type sources struct {
	trusted []netip.Prefix
}

// ParseTrustedProxies reads sip.trusted_proxies: addresses ("192.0.2.10",
// "2001:db8::10") and CIDRs ("10.0.0.0/24").
func ParseTrustedProxies(entries []string) ([]netip.Prefix, error) {
	return dialtone.ParsePrefixes(entries)
}

// trusts reports whether a is one of the trusted proxies.
func (s sources) trusts(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// of returns the real source of req. From an untrusted peer it is the
// peer, and any SourceHeader is removed from req (a client's forgery).
// From a trusted front it is what the one SourceHeader says; a front's
// own requests (its OPTIONS probes) carry none and are the front's.
// The error, ErrBadSource wrapped, is for a trusted front's request whose
// header is missing (other than OPTIONS), repeated or malformed: the
// request is refused rather than counted against the front.
func (s sources) of(req *sip.Request) (Source, error) {
	peer := Source{Transport: strings.ToLower(req.Transport())}
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		peer.Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	} else {
		peer.raw = req.Source()
	}
	hs := req.GetHeaders(SourceHeader)
	if !peer.Addr.IsValid() || !s.trusts(peer.Addr.Addr()) {
		for _, h := range hs {
			req.RemoveHeader(h.Name()) // the first of that spelling: one a call
		}
		return peer, nil
	}
	switch len(hs) {
	case 0:
		if req.Method == sip.OPTIONS {
			return peer, nil
		}
		return peer, fmt.Errorf("%w: none from the front proxy %s", ErrBadSource, peer)
	case 1:
	default:
		return peer, fmt.Errorf("%w: %d of them from the front proxy %s", ErrBadSource, len(hs), peer)
	}
	src, err := ParseSourceHeader(hs[0].Value())
	if err != nil {
		return peer, fmt.Errorf("%w from the front proxy %s: %v", ErrBadSource, peer, err)
	}
	return src, nil
}

// ParseSourceHeader reads a SourceHeader value: "IP:port;transport".
func ParseSourceHeader(v string) (Source, error) {
	v = strings.TrimSpace(v)
	if len(v) > maxSourceHeader {
		return Source{}, fmt.Errorf("longer than %d bytes", maxSourceHeader)
	}
	addr, tp, ok := strings.Cut(v, ";")
	if !ok {
		return Source{}, fmt.Errorf("%q has no ;transport", v)
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(addr))
	if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
		return Source{}, fmt.Errorf("%q is not IP:port", addr)
	}
	tp = strings.ToLower(strings.TrimSpace(tp))
	if !slices.Contains(Transports, tp) {
		return Source{}, fmt.Errorf("transport %q is not one of udp, tcp, tls, ws, wss", tp)
	}
	return Source{Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), Transport: tp, Front: true}, nil
}
