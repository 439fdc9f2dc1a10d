package trunks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
)

// ErrDNS marks a carrier whose servers DNS did not give: its attempt is
// skipped, and the wrapped error says what the lookup answered.
var ErrDNS = errors.New("dns")

// Resolver finds the servers of a domain for a transport (udp, tcp, tls)
// by DNS SRV, best first. trunks/srv implements it.
type Resolver interface {
	Lookup(ctx context.Context, transport, domain string) ([]netip.AddrPort, error)
}

// Cost is a trunk's price per minute for a number under its buy plan;
// false when the plan has no rate for it.
type Cost func(ctx context.Context, plan string, n Number) (decimal.Decimal, bool)

// Destination is where a dialed number goes: the number, and the attempts
// to make in order until one carrier answers.
type Destination struct {
	Number   Number
	Attempts []Attempt
}

// Attempt is one address of one carrier to send the call to.
type Attempt struct {
	Carrier  *Carrier
	Endpoint Endpoint
	User     string // the Request-URI user: the number after the carrier's rewriting
	// Err, when set, is why the carrier cannot be tried (ErrDNS): the
	// attempt is to be skipped with it, so that the call's record shows it.
	Err error
}

// Router assembles a call's destination from the carriers in force. It is
// safe for concurrent use; Set swaps in a new configuration.
type Router struct {
	cur  atomic.Pointer[Carriers]
	dns  Resolver // nil: carriers given by SRV fail with ErrDNS
	cost Cost     // nil: least-cost routes keep their order
	rand func() float64
}

// NewRouter routes over cs. dns finds carriers given by SRV; cost prices
// least-cost routes. Either may be nil.
func NewRouter(cs *Carriers, dns Resolver, cost Cost) *Router {
	r := &Router{dns: dns, cost: cost, rand: rand.Float64}
	r.cur.Store(cs)
	return r
}

// Set puts cs in force for the calls that start from now on.
func (r *Router) Set(cs *Carriers) { r.cur.Store(cs) }

// Carriers is the configuration in force.
func (r *Router) Carriers() *Carriers { return r.cur.Load() }

// Route normalizes dialed (as dialed in country), refuses a blocked
// destination (a *BlockedError) and gives the attempts in order: the route's trunks (least cost first, or one drawn by shares
// first), each at its addresses in order. A normalized number that has no
// route comes back with the error.
func (r *Router) Route(ctx context.Context, dialed, country string) (Destination, error) {
	cs := r.cur.Load()
	n, route, err := cs.reach(dialed, country)
	d := Destination{Number: n}
	if err != nil {
		return d, err
	}
	names := route.Trunks
	if len(route.Shares) > 0 {
		names = Share(names, route.Shares, r.rand())
	}
	if route.LeastCost && r.cost != nil {
		names = OrderByCost(names, func(name string) (decimal.Decimal, bool) {
			c := cs.byName[name]
			if c == nil || c.Config.BuyPlan == "" {
				return decimal.Zero, false
			}
			return r.cost(ctx, c.Config.BuyPlan, n)
		})
	}
	for _, name := range names {
		c := cs.byName[name]
		user := Rewrite(n.E164, c.Config.Rewrite.Strip, c.Config.Rewrite.Prefix, c.Config.Rewrite.TechPrefix)
		eps, err := r.Endpoints(ctx, c)
		if err != nil {
			d.Attempts = append(d.Attempts, Attempt{Carrier: c, User: user, Err: err})
			continue
		}
		for _, ep := range eps {
			d.Attempts = append(d.Attempts, Attempt{Carrier: c, Endpoint: ep, User: user})
		}
	}
	return d, nil
}

// Check is what Route decides of dialed before it picks a carrier: the
// number normalized, and an error when it is invalid, blocked (a
// *BlockedError, or ErrPremium) or has no route (ErrNoRoute). It looks
// nothing up (no DNS), so it is cheap enough to ask while a user types.
func (r *Router) Check(dialed, country string) (Number, error) {
	n, _, err := r.cur.Load().reach(dialed, country)
	return n, err
}

// reach normalizes dialed, refuses a blocked destination and finds its
// route in cs: the one rule of Route and Check.
func (cs *Carriers) reach(dialed, country string) (Number, Route, error) {
	n, err := Normalize(dialed, country)
	if err != nil {
		return Number{}, Route{}, err
	}
	if err := cs.blocked.Check(n); err != nil {
		return n, Route{}, fmt.Errorf("route: %w", err)
	}
	route, err := cs.table.Route(n)
	if err != nil {
		return n, Route{}, err
	}
	return n, route, nil
}

// Endpoints are the carrier's addresses in the order to try them: as
// configured, or from DNS SRV. A failed lookup is an error wrapping ErrDNS
// and is kept for Status.
func (r *Router) Endpoints(ctx context.Context, c *Carrier) ([]Endpoint, error) {
	if c.Config.SRV == "" {
		return c.Endpoints, nil
	}
	if r.dns == nil {
		err := fmt.Errorf("%w: no resolver for srv %s", ErrDNS, c.Config.SRV)
		c.setDNSError(err)
		return nil, err
	}
	aps, err := r.dns.Lookup(ctx, c.Config.Transport, c.Config.SRV)
	if err == nil && len(aps) == 0 {
		err = fmt.Errorf("srv %s: no servers", c.Config.SRV)
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrDNS, err)
		c.setDNSError(err)
		return nil, err
	}
	c.setDNSError(nil)
	eps := make([]Endpoint, len(aps))
	for i, ap := range aps {
		eps[i] = Endpoint{Host: ap.Addr().String(), Port: int(ap.Port())}
	}
	return eps, nil
}

// Status is one carrier's line of `dialtone trunks status`.
type Status struct {
	Name        string    `json:"name"`
	Address     string    `json:"address"` // host:port,... or srv:domain
	Transport   string    `json:"transport"`
	Up          bool      `json:"up"`
	Reason      string    `json:"reason,omitempty"` // why it is down, or its last DNS failure
	Since       time.Time `json:"since"`
	Channels    int       `json:"channels"`
	MaxChannels int       `json:"max_channels"`
	MaxCPS      float64   `json:"max_cps"`
	Register    string    `json:"register,omitempty"`
}

// Status is every carrier's state, in the configured order. registered
// gives a registering carrier's registration state (nil: none shown).
func (r *Router) Status(registered func(trunk string) string) []Status {
	cs := r.cur.Load()
	out := make([]Status, 0, len(cs.order))
	for _, c := range cs.All() {
		up, reason, since := c.Gate.State()
		if reason == "" {
			if err := c.DNSError(); err != nil {
				reason = err.Error()
			}
		}
		s := Status{Name: c.Name(), Address: addressText(c), Transport: c.Config.Transport, Up: up, Reason: reason,
			Since: since.UTC(), Channels: c.Gate.Channels(), MaxChannels: c.Config.MaxChannels, MaxCPS: c.Config.MaxCPS}
		if registered != nil && c.Config.Register.Enabled {
			s.Register = registered(c.Name())
		}
		out = append(out, s)
	}
	return out
}

func addressText(c *Carrier) string {
	if c.Config.SRV != "" {
		return "srv:" + c.Config.SRV
	}
	parts := make([]string, len(c.Endpoints))
	for i, ep := range c.Endpoints {
		parts[i] = ep.String()
	}
	return strings.Join(parts, ",")
}
