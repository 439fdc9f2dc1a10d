package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
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
//
// With Share, it also writes them through to a store the nodes share, so
// that any node (and `dialtone registrations`) sees which node holds a
// device's connection. Memory stays the path REGISTER and lookups take:
// the writes are queued and written in batches by one goroutine, so a
// slow store never slows a REGISTER; a full queue drops the write (the
// device's next refresh writes it again).
type Registrar struct {
	mu       sync.Mutex
	bindings map[string][]Binding // by username

	shared *sharing // nil: memory only
}

// RegistrationStore is where Share writes (dialtone.RegistrationStore).
type RegistrationStore interface {
	SaveRegistrations(ctx context.Context, rs []dialtone.Registration, now time.Time) error
	ClearRegistrations(ctx context.Context, username, node string) error
	PurgeRegistrations(ctx context.Context, before time.Time) (int64, error)
}

// sharing is the write-through of a Registrar.
type sharing struct {
	store RegistrationStore
	node  string
	now   func() time.Time
	log   *slog.Logger
	queue chan regWrite
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// regWrite is a binding to save, or (clear) every binding of a username on this node.
type regWrite struct {
	reg   dialtone.Registration
	clear bool
}

// How the write-through batches: up to regBatch bindings, written at
// least each regFlush; regQueue writes wait at most.
const (
	regBatch = 256
	regFlush = 500 * time.Millisecond
	regQueue = 8192
)

// Share writes the registrar's changes through to st as node's, until
// Close. Call it once, before the registrar is used.
func (r *Registrar) Share(st RegistrationStore, node string, now func() time.Time, log *slog.Logger) {
	s := &sharing{store: st, node: node, now: now, log: log, queue: make(chan regWrite, regQueue), done: make(chan struct{})}
	r.shared = s
	s.wg.Add(1)
	go s.run()
}

// Close writes what is queued and stops the write-through; a registrar
// that does not share has nothing to close. Closing twice is harmless.
func (r *Registrar) Close() error {
	if r.shared != nil {
		r.shared.once.Do(func() { close(r.shared.done) })
		r.shared.wg.Wait()
	}
	return nil
}

func (s *sharing) enqueue(w regWrite) {
	select {
	case s.queue <- w:
	default:
		s.log.Warn("registration store queue full: registration not shared", "username", w.reg.Username)
	}
}

func (s *sharing) run() {
	defer s.wg.Done()
	flush := time.NewTicker(regFlush)
	defer flush.Stop()
	purge := time.NewTicker(time.Minute)
	defer purge.Stop()
	var batch []dialtone.Registration
	write := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.store.SaveRegistrations(ctx, batch, s.now()); err != nil {
			s.log.Error("registrations not shared", "bindings", len(batch), "error", err)
		}
		batch = batch[:0]
	}
	take := func(w regWrite) {
		if !w.clear {
			if batch = append(batch, w.reg); len(batch) >= regBatch {
				write()
			}
			return
		}
		write() // in order: what came before the clear first
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.store.ClearRegistrations(ctx, w.reg.Username, s.node); err != nil {
			s.log.Error("registrations not cleared", "username", w.reg.Username, "error", err)
		}
	}
	for {
		select {
		case w := <-s.queue:
			take(w)
		case <-flush.C:
			write()
		case <-purge.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := s.store.PurgeRegistrations(ctx, s.now().Add(-time.Minute)); err != nil {
				s.log.Error("registrations not purged", "error", err)
			}
			cancel()
		case <-s.done:
			for {
				select {
				case w := <-s.queue:
					take(w)
				default:
					write()
					return
				}
			}
		}
	}
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
	if r.shared != nil {
		for _, b := range add {
			r.shared.enqueue(regWrite{reg: dialtone.Registration{Username: username, Contact: b.Contact, Source: b.Source,
				Transport: b.Transport, Node: r.shared.node, Expires: b.Expires}})
		}
	}
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
	if r.shared != nil {
		r.shared.enqueue(regWrite{reg: dialtone.Registration{Username: username}, clear: true})
	}
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
