package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/b2bua"
	"github.com/dialtone/dialtone/trunks"
)

// carriers is the trunk and route configuration in force. A reload builds
// a new one and swaps it in whole; calls in progress keep what they took.
type carriers struct {
	table  *trunks.Table
	byName map[string]*carrier
	order  []string // as configured
}

type carrier struct {
	cfg       TrunkConfig
	trunk     b2bua.Trunk   // at its first address
	endpoints []b2bua.Trunk // one per address, in order
	gate      *trunks.Gate
}

// buildCarriers checks and indexes trunks and routes. A trunk of old with
// the same name and limits keeps its gate: its channels in use and health.
func buildCarriers(tcs []TrunkConfig, rcs []RouteConfig, old *carriers, now func() time.Time) (*carriers, error) {
	cs := &carriers{byName: map[string]*carrier{}}
	for i, tc := range tcs {
		c := &carrier{cfg: tc}
		if tc.SRV != "" { // addresses come from DNS at call time; this is the template
			c.trunk = b2bua.Trunk{Name: tc.Name, Transport: tc.Transport, Codecs: tc.Codecs,
				Username: tc.Username, Password: tc.Password, InviteTimeout: tc.InviteTimeout.D(),
				CallerID: tc.CallerID.From, PAI: tc.CallerID.PAI, Privacy: tc.CallerID.Privacy, Headers: tc.Headers}
		}
		for _, addr := range tc.Endpoints() {
			host, portStr, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("trunks[%d].address: %w", i, err)
			}
			port, err := strconv.Atoi(portStr)
			if err != nil || port <= 0 || port > 65535 {
				return nil, fmt.Errorf("trunks[%d].address: port %q is not 1-65535", i, portStr)
			}
			c.endpoints = append(c.endpoints, b2bua.Trunk{
				Name: tc.Name, Host: host, Port: port, Transport: tc.Transport, Codecs: tc.Codecs,
				Username: tc.Username, Password: tc.Password, InviteTimeout: tc.InviteTimeout.D(),
				CallerID: tc.CallerID.From, PAI: tc.CallerID.PAI, Privacy: tc.CallerID.Privacy, Headers: tc.Headers,
			})
		}
		if len(c.endpoints) > 0 {
			c.trunk = c.endpoints[0]
		}
		if old != nil {
			if o := old.byName[tc.Name]; o != nil && o.cfg.MaxChannels == tc.MaxChannels && o.cfg.MaxCPS == tc.MaxCPS {
				c.gate = o.gate
			}
		}
		if c.gate == nil {
			c.gate = trunks.NewGate(tc.MaxChannels, tc.MaxCPS, now)
		}
		cs.byName[tc.Name] = c
		cs.order = append(cs.order, tc.Name)
	}
	routes := make([]trunks.Route, 0, len(rcs))
	for i, rc := range rcs {
		route := trunks.Route{Prefix: rc.Prefix, Trunks: rc.Trunks, LeastCost: rc.LeastCost, Shares: rc.Shares}
		for _, s := range rc.Types {
			t, err := trunks.ParseNumberType(s)
			if err != nil {
				return nil, fmt.Errorf("routes[%d].types: %w", i, err)
			}
			route.Types = append(route.Types, t)
		}
		routes = append(routes, route)
	}
	table, err := trunks.NewTable(routes)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	cs.table = table
	return cs, nil
}

// router adapts the carriers in force to b2bua.Router.
type router struct {
	cur        atomic.Pointer[carriers]
	srv        *srvResolver
	cost       func(ctx context.Context, plan, e164, numberType string) (decimal.Decimal, bool)
	registered func(trunk string) string // outbound registration state, for status
}

func (r *router) Route(ctx context.Context, acct *dialtone.Account, dialed string) (b2bua.Destination, error) {
	n, err := trunks.Normalize(dialed, acct.Country)
	if err != nil {
		return b2bua.Destination{}, err
	}
	d := b2bua.Destination{E164: n.E164, Type: string(n.Type), Country: n.Country}
	cs := r.cur.Load()
	route, err := cs.table.Route(n)
	if err != nil {
		return d, err
	}
	names := route.Trunks
	if len(route.Shares) > 0 {
		names = trunks.Share(names, route.Shares, rand.Float64())
	}
	if route.LeastCost && r.cost != nil {
		names = trunks.OrderByCost(names, func(name string) (decimal.Decimal, bool) {
			c := cs.byName[name]
			if c == nil || c.cfg.BuyPlan == "" {
				return decimal.Zero, false
			}
			return r.cost(ctx, c.cfg.BuyPlan, n.E164, string(n.Type))
		})
	}
	for _, name := range names {
		c := cs.byName[name]
		user := trunks.Rewrite(n.E164, c.cfg.Rewrite.Strip, c.cfg.Rewrite.Prefix, c.cfg.Rewrite.TechPrefix)
		for _, t := range r.endpoints(ctx, c) { // a carrier's addresses, in order
			t.User = user
			if t.Acquire == nil {
				t.Acquire = c.gate.Acquire
			}
			d.Trunks = append(d.Trunks, t)
		}
	}
	return d, nil
}

// endpoints are the carrier's addresses: configured, or from DNS SRV. A
// failed lookup gives one entry that is skipped with the reason, so that
// the CDR shows it.
func (r *router) endpoints(ctx context.Context, c *carrier) []b2bua.Trunk {
	if c.cfg.SRV == "" {
		return c.endpoints
	}
	targets, err := r.srv.Lookup(ctx, c.cfg.Transport, c.cfg.SRV)
	if err != nil {
		t := c.trunk
		t.Acquire = func() (func(), error) { return nil, fmt.Errorf("dns") }
		return []b2bua.Trunk{t}
	}
	out := make([]b2bua.Trunk, 0, len(targets))
	for _, hp := range targets {
		host, port, _ := net.SplitHostPort(hp)
		t := c.trunk
		t.Host = host
		t.Port, _ = strconv.Atoi(port)
		out = append(out, t)
	}
	return out
}

// loops runs one goroutine per carrier that wants one, and replaces them
// all when the carriers change.
type loops struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Restart stops the previous loops and runs run for each carrier of cs
// that want selects.
func (l *loops) Restart(cs *carriers, want func(*carrier) bool, run func(context.Context, *carrier)) {
	l.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	l.mu.Lock()
	l.cancel = cancel
	l.mu.Unlock()
	for _, name := range cs.order {
		c := cs.byName[name]
		if !want(c) {
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			run(ctx, c)
		}()
	}
}

// Stop ends the loops and waits for them.
func (l *loops) Stop() {
	l.mu.Lock()
	cancel := l.cancel
	l.cancel = nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	l.wg.Wait()
}

// health pings each carrier that asks for it with OPTIONS and marks it up
// or down. Restart replaces the pingers after a reload.
type health struct {
	loops
	client    *sipgo.Client
	log       *slog.Logger
	endpoints func(context.Context, *carrier) []b2bua.Trunk
}

// Restart stops the pingers of the previous carriers and starts cs's.
func (h *health) Restart(cs *carriers) {
	h.loops.Restart(cs, func(c *carrier) bool {
		if c.cfg.Options.Interval.D() <= 0 {
			c.gate.SetUp(true, "") // not checked: always up
			return false
		}
		return true
	}, h.watch)
}

func (h *health) watch(ctx context.Context, c *carrier) {
	o := c.cfg.Options
	state := trunks.Health{DownAfter: o.DownAfter, UpAfter: o.UpAfter}
	t := time.NewTicker(o.Interval.D())
	defer t.Stop()
	for {
		reason := h.ping(ctx, c)
		if ctx.Err() != nil {
			return
		}
		up, _, _ := c.gate.State()
		if changed, nowUp := state.Record(reason == "", up); changed {
			c.gate.SetUp(nowUp, reason)
			if nowUp {
				h.log.Info("carrier up", "trunk", c.cfg.Name)
			} else {
				h.log.Warn("carrier down", "trunk", c.cfg.Name, "reason", reason)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ping sends OPTIONS to the carrier's addresses in order until one answers;
// "" means one did (anything below 500), else the first address's failure.
func (h *health) ping(ctx context.Context, c *carrier) string {
	first := ""
	eps := h.endpoints(ctx, c)
	if len(eps) == 1 && eps[0].Host == "" {
		return "DNS: no servers for " + c.cfg.SRV
	}
	for _, tr := range eps {
		reason := h.pingOne(ctx, c, tr)
		if reason == "" {
			return ""
		}
		if first == "" {
			first = reason
		}
	}
	return first
}

func (h *health) pingOne(ctx context.Context, c *carrier, tr b2bua.Trunk) string {
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: tr.Host, Port: tr.Port})
	req.SetTransport(strings.ToUpper(tr.Transport))
	req.SetDestination(net.JoinHostPort(tr.Host, strconv.Itoa(tr.Port)))
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Options.Timeout.D())
	defer cancel()
	res, err := h.client.Do(ctx, req)
	switch {
	case err != nil && ctx.Err() != nil:
		return "OPTIONS: no answer within " + c.cfg.Options.Timeout.D().String()
	case err != nil:
		return "OPTIONS: " + err.Error()
	case res.StatusCode >= 500:
		return fmt.Sprintf("OPTIONS: %d %s", res.StatusCode, res.Reason)
	}
	return ""
}

// carrierCollector exports each carrier's health and channels in use.
type carrierCollector struct {
	r            *router
	up, channels *prometheus.Desc
}

func newCarrierCollector(r *router) *carrierCollector {
	return &carrierCollector{r: r,
		up:       prometheus.NewDesc("dialtone_trunk_up", "1 when the carrier is up by its health checks.", []string{"trunk"}, nil),
		channels: prometheus.NewDesc("dialtone_trunk_channels", "Channels in use on the carrier.", []string{"trunk"}, nil),
	}
}

func (c *carrierCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.up; ch <- c.channels }

func (c *carrierCollector) Collect(ch chan<- prometheus.Metric) {
	cs := c.r.cur.Load()
	for _, name := range cs.order {
		g := cs.byName[name].gate
		up, _, _ := g.State()
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, v, name)
		ch <- prometheus.MustNewConstMetric(c.channels, prometheus.GaugeValue, float64(g.Channels()), name)
	}
}

// trunkStatus is one line of `dialtone trunks status`.
type trunkStatus struct {
	Name        string    `json:"name"`
	Address     string    `json:"address"`
	Transport   string    `json:"transport"`
	Up          bool      `json:"up"`
	Reason      string    `json:"reason,omitempty"`
	Since       time.Time `json:"since"`
	Channels    int       `json:"channels"`
	MaxChannels int       `json:"max_channels"`
	MaxCPS      float64   `json:"max_cps"`
	Register    string    `json:"register,omitempty"`
}

func (r *router) status() []trunkStatus {
	cs := r.cur.Load()
	out := make([]trunkStatus, 0, len(cs.order))
	for _, name := range cs.order {
		c := cs.byName[name]
		up, reason, since := c.gate.State()
		addr := strings.Join(c.cfg.Endpoints(), ",")
		if c.cfg.SRV != "" {
			addr = "srv:" + c.cfg.SRV
		}
		out = append(out, trunkStatus{Name: name, Address: addr, Transport: c.cfg.Transport, Up: up, Reason: reason,
			Since: since.UTC(), Channels: c.gate.Channels(), MaxChannels: c.cfg.MaxChannels, MaxCPS: c.cfg.MaxCPS})
		if r.registered != nil && c.cfg.Register.Enabled {
			out[len(out)-1].Register = r.registered(name)
		}
	}
	return out
}
