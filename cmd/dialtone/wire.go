package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/media/bridge"
	"github.com/dialtone/dialtone/media/rtp"
	"github.com/dialtone/dialtone/switch/b2bua"
	"github.com/dialtone/dialtone/trunks"
)

// router adapts the trunks package to b2bua.Router.
type router struct {
	table  *trunks.Table
	trunks map[string]b2bua.Trunk
}

func newRouter(tcs []TrunkConfig, rcs []RouteConfig) (*router, error) {
	r := &router{trunks: map[string]b2bua.Trunk{}}
	for i, tc := range tcs {
		host, portStr, err := net.SplitHostPort(tc.Address)
		if err != nil {
			return nil, fmt.Errorf("trunks[%d].address: %w", i, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("trunks[%d].address: port %q is not 1-65535", i, portStr)
		}
		r.trunks[tc.Name] = b2bua.Trunk{Name: tc.Name, Host: host, Port: port, Transport: tc.Transport, Codecs: tc.Codecs}
	}
	routes := make([]trunks.Route, 0, len(rcs))
	for i, rc := range rcs {
		route := trunks.Route{Prefix: rc.Prefix, Trunks: rc.Trunks}
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
	r.table = table
	return r, nil
}

func (r *router) Route(_ context.Context, acct *dialtone.Account, dialed string) (b2bua.Destination, error) {
	n, err := trunks.Normalize(dialed, acct.Country)
	if err != nil {
		return b2bua.Destination{}, err
	}
	names, err := r.table.Lookup(n)
	if err != nil {
		return b2bua.Destination{E164: n.E164, Type: string(n.Type), Country: n.Country}, err
	}
	d := b2bua.Destination{E164: n.E164, Type: string(n.Type), Country: n.Country}
	for _, name := range names {
		d.Trunks = append(d.Trunks, r.trunks[name])
	}
	return d, nil
}

// credit adapts billing.Controller to b2bua.Credit.
type credit struct {
	c *billing.Controller
}

func newCredit(cfg *Config, st dialtone.Store, log *slog.Logger) (*billing.Controller, error) {
	node := cfg.Billing.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	buy := map[string]string{}
	for _, t := range cfg.Trunks {
		if t.BuyPlan != "" {
			buy[t.Name] = t.BuyPlan
		}
	}
	b := cfg.Billing
	return billing.NewController(billing.Config{
		Node: node, Interval: b.Interval.D(), DefaultPlan: b.DefaultPlan, BuyPlans: buy,
		Rounding: billing.Rounding{Places: b.Rounding.Places, Mode: billing.RoundingMode(b.Rounding.Mode)},
		RatesTTL: b.RatesCacheTTL.D(), MaxDuration: b.MaxCallDuration.D(),
	}, st, func() time.Time { return time.Now().UTC() }, log)
}

func (a credit) Authorize(ctx context.Context, req b2bua.CreditRequest) (b2bua.CreditCall, error) {
	k, err := a.c.Authorize(ctx, billing.Request{CallID: req.CallID, Account: req.Account, E164: req.Destination.E164,
		Country: req.Destination.Country, NumberType: req.Destination.Type, CDR: req.CDR})
	if k == nil || err != nil {
		return nil, err // a nil *billing.Call must not become a non-nil interface
	}
	return k, nil
}

// mediaFactory adapts media/bridge to b2bua.Media.
type mediaFactory struct {
	f *bridge.Factory
}

func newMediaFactory(c MediaConfig, reg prometheus.Registerer) (*mediaFactory, error) {
	bind, err := netip.ParseAddr(c.Bind)
	if err != nil {
		return nil, fmt.Errorf("media.bind: %w", err)
	}
	adv, err := netip.ParseAddr(c.Advertise)
	if err != nil {
		return nil, fmt.Errorf("media.advertise: %w", err)
	}
	pool, err := rtp.NewPortPool(bind, c.PortMin, c.PortMax)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dialtone_rtp_port_pairs_in_use", Help: "RTP/RTCP port pairs allocated (two per call).",
	}, func() float64 { return float64(pool.InUse()) }))
	return &mediaFactory{f: bridge.NewFactory(bridge.Config{Pool: pool, Advertise: adv, Timeout: c.Timeout.D()})}, nil
}

func (m *mediaFactory) Bridge(ctx context.Context, callID string, appOffer []byte) (b2bua.Bridge, error) {
	b, err := m.f.New(ctx, callID, appOffer)
	if err != nil {
		return nil, err
	}
	return b, nil
}
