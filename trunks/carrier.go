package trunks

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Carrier is one trunk in force: its configuration, its configured
// addresses and its live state.
type Carrier struct {
	Config    TrunkConfig
	Endpoints []Endpoint // as configured, in order; none when DNS SRV gives them
	Gate      *Gate      // channels, calls per second, health

	dnsErr atomic.Pointer[error] // the last SRV lookup's failure; nil after a success
}

// Name is the trunk's name.
func (c *Carrier) Name() string { return c.Config.Name }

// DNSError is the last failure of the carrier's DNS lookup, nil if the
// last lookup worked or there was none.
func (c *Carrier) DNSError() error {
	if p := c.dnsErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *Carrier) setDNSError(err error) {
	if err == nil {
		c.dnsErr.Store(nil)
		return
	}
	c.dnsErr.Store(&err)
}

// Carriers is the trunk and route configuration in force. It is not
// changed once built: a reload builds a new one and swaps it in whole, and
// calls in progress keep what they took.
type Carriers struct {
	table   *Table
	blocked *Blocklist
	byName  map[string]*Carrier
	order   []string // as configured
}

// Build checks and indexes cfg's trunks and routes (cfg has had Defaults).
// A trunk of old with the same name and limits keeps its gate: its
// channels in use and its health.
func Build(cfg Config, old *Carriers, now func() time.Time) (*Carriers, error) {
	cs := &Carriers{byName: map[string]*Carrier{}}
	for i, tc := range cfg.Trunks {
		c := &Carrier{Config: tc}
		for _, a := range tc.AddressList() {
			ep, err := ParseEndpoint(a)
			if err != nil {
				return nil, fmt.Errorf("trunks[%d].address: %w", i, err)
			}
			c.Endpoints = append(c.Endpoints, ep)
		}
		if o := old.Get(tc.Name); o != nil && o.Config.MaxChannels == tc.MaxChannels && o.Config.MaxCPS == tc.MaxCPS {
			c.Gate = o.Gate
		}
		if c.Gate == nil {
			c.Gate = NewGate(tc.MaxChannels, tc.MaxCPS, now)
		}
		if cs.byName[tc.Name] != nil {
			return nil, fmt.Errorf("trunks[%d].name: %q is defined twice", i, tc.Name)
		}
		cs.byName[tc.Name] = c
		cs.order = append(cs.order, tc.Name)
	}
	routes := make([]Route, 0, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		r, err := rc.route(func(name string) bool { return cs.byName[name] != nil })
		if err != nil {
			return nil, fmt.Errorf("routes[%d].%w", i, err)
		}
		routes = append(routes, r)
	}
	table, err := NewTable(routes)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	cs.table = table
	if cs.blocked, err = NewBlocklist(cfg.Destinations); err != nil {
		return nil, fmt.Errorf("destinations.%w", err)
	}
	return cs, nil
}

// Get is the carrier named name, nil if there is none (or cs is nil).
func (cs *Carriers) Get(name string) *Carrier {
	if cs == nil {
		return nil
	}
	return cs.byName[name]
}

// All is every carrier, in the configured order.
func (cs *Carriers) All() []*Carrier {
	out := make([]*Carrier, 0, len(cs.order))
	for _, name := range cs.order {
		out = append(out, cs.byName[name])
	}
	return out
}
