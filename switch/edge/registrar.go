package edge

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Binding is one registered contact of an account (RFC 3261 section 10.3).
type Binding struct {
	Contact   string // the Contact URI the device registered
	Source    string // where the REGISTER came from (host:port), for NAT
	Transport string
	Expires   time.Time
	// Path is the route set the front proxies the REGISTER came through
	// asked to be reached by (RFC 3327), nearest first: Path header
	// values as they came. Empty for a client that registered directly.
	Path []string
}

// Request returns a request for the binding's device (RFC 3327 section
// 5.4): to its Contact, with its Path as the Route set, sent to the first
// Path hop, so that it goes back through the front proxy that holds the
// device's connection (a browser's WebSocket) or NAT binding. Without a
// Path it goes to the address the REGISTER came from.
func (b Binding) Request(method sip.RequestMethod) (*sip.Request, error) {
	var to sip.Uri
	if err := sip.ParseUri(b.Contact, &to); err != nil {
		return nil, fmt.Errorf("binding contact %q: %w", b.Contact, err)
	}
	req := sip.NewRequest(method, to)
	req.SetTransport(b.Transport)
	req.SetDestination(b.Source)
	for i, v := range b.Path {
		if i == 0 {
			var hop sip.Uri
			first := v
			if j := indexOutsideAngles(v, ','); j >= 0 {
				first = v[:j]
			}
			if _, err := sip.ParseAddressValue(first, &hop, nil); err != nil {
				return nil, fmt.Errorf("binding path %q: %w", v, err)
			}
			port := hop.Port
			if port == 0 {
				port = 5060
			}
			req.SetDestination(net.JoinHostPort(hop.Host, strconv.Itoa(port)))
			tp := "UDP"
			if t, ok := hop.UriParams.Get("transport"); ok && t != "" {
				tp = sip.NetworkToUpper(t) // as sipgo names its transports
			}
			req.SetTransport(tp)
		}
		req.AppendHeader(sip.NewHeader("Route", v))
	}
	return req, nil
}

// indexOutsideAngles is the index of the first c in s outside <...>, or -1.
func indexOutsideAngles(s string, c byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			depth++
		case '>':
			depth--
		case c:
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// Registrar keeps the current contacts of each account in memory. A
// restart loses them; devices re-register within their refresh interval.
// Safe for concurrent use.
type Registrar struct {
	mu       sync.Mutex
	bindings map[string][]Binding // by username
}

// NewRegistrar returns an empty registrar.
func NewRegistrar() *Registrar {
	return &Registrar{bindings: map[string][]Binding{}}
}

// Update adds, refreshes or (with a past expiry) removes the given
// bindings and returns the account's live bindings.
func (r *Registrar) Update(username string, add []Binding, now time.Time) []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.bindings[username]
	for _, b := range add {
		replaced := false
		for i := range cur {
			if cur[i].Contact == b.Contact {
				cur[i], replaced = b, true
			}
		}
		if !replaced {
			cur = append(cur, b)
		}
	}
	live := cur[:0]
	for _, b := range cur {
		if b.Expires.After(now) {
			live = append(live, b)
		}
	}
	if len(live) == 0 {
		delete(r.bindings, username)
		return nil
	}
	r.bindings[username] = live
	return append([]Binding(nil), live...)
}

// Clear removes every binding of an account (Contact: * with Expires: 0).
func (r *Registrar) Clear(username string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.bindings, username)
}

// Lookup returns the account's bindings that are still live at now.
func (r *Registrar) Lookup(username string, now time.Time) []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Binding
	for _, b := range r.bindings[username] {
		if b.Expires.After(now) {
			out = append(out, b)
		}
	}
	return out
}

// Count is the number of accounts with at least one binding.
func (r *Registrar) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bindings)
}
