package edge

import (
	"sync"
	"time"
)

// Binding is one registered contact of an account (RFC 3261 section 10.3).
type Binding struct {
	Contact   string // the Contact URI the device registered
	Source    string // where the REGISTER came from (host:port), for NAT
	Transport string
	Expires   time.Time
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
