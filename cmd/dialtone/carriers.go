package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/emiago/sipgo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/switch/b2bua"
	"github.com/dialtone/dialtone/trunks"
	"github.com/dialtone/dialtone/trunks/health"
	"github.com/dialtone/dialtone/trunks/registrant"
	"github.com/dialtone/dialtone/trunks/srv"
)

// carriers is the carrier side wired: the router in force, the OPTIONS
// checks and the outbound registrations. It adapts trunks.Router to
// b2bua.Router.
type carriers struct {
	router  *trunks.Router
	health  *health.Monitor
	regs    *registrant.Keeper
	ctl     *billing.Controller    // prices least-cost routes; set once built
	refused *prometheus.CounterVec // calls refused before any carrier, by reason
	log     *slog.Logger
}

// Reasons of dialtone_calls_refused_total.
const (
	refusedCallerID = "caller_id"           // the app presented a number not its account's
	refusedBlocked  = "blocked_destination" // destinations.block or the built-in list
	refusedPremium  = "premium"             // a premium-rate number no route names
)

// newRefused registers dialtone_calls_refused_total, the calls refused
// before any carrier by reason: the carriers' policies here, and the
// accounts' limits (switch/limits) by the limit's name.
func newRefused(reg prometheus.Registerer) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dialtone_calls_refused_total",
		Help: "Calls refused before reaching any carrier, by reason: caller_id, blocked_destination, premium, or the account limit that refused it.",
	}, []string{"reason"})
	for _, r := range []string{refusedCallerID, refusedBlocked, refusedPremium} {
		v.WithLabelValues(r) // listed at 0 from the start
	}
	reg.MustRegister(v)
	return v
}

func newCarriers(cfg *Config, client *sipgo.Client, udpPort int, refused *prometheus.CounterVec, log *slog.Logger) (*carriers, error) {
	cs, err := trunks.Build(cfg.Config, nil, time.Now)
	if err != nil {
		return nil, err
	}
	c := &carriers{log: log, refused: refused}
	c.router = trunks.NewRouter(cs, srv.New(srv.Config{Server: cfg.SIP.DNSServer}), c.cost)
	c.health = health.New(client, c.router.Endpoints, log)
	c.regs = registrant.NewKeeper(registrant.Config{Client: client, Endpoints: c.router.Endpoints,
		ContactHost: cfg.SIP.Advertise, ContactPort: udpPort, Log: log})
	return c, nil
}

// start runs the health checks and registrations of the carriers in force.
func (c *carriers) start() {
	c.health.Restart(c.router.Carriers())
	c.regs.Restart(c.router.Carriers())
}

// reload swaps in cfg's trunks and routes; calls in progress keep theirs.
func (c *carriers) reload(cfg *Config) (int, error) {
	cs, err := trunks.Build(cfg.Config, c.router.Carriers(), time.Now)
	if err != nil {
		return 0, err
	}
	c.router.Set(cs)
	c.start()
	return len(cs.All()), nil
}

func (c *carriers) stop() {
	c.health.Stop()
	c.regs.Stop()
}

func (c *carriers) status() []trunks.Status { return c.router.Status(c.regs.State) }

// buyPlan is the trunk's buy plan, for billing's cost and margin.
func (c *carriers) buyPlan(trunk string) string {
	if k := c.router.Carriers().Get(trunk); k != nil {
		return k.Config.BuyPlan
	}
	return ""
}

// cost is a trunk's rate for n from its buy deck, for least-cost routing.
func (c *carriers) cost(ctx context.Context, plan string, n trunks.Number) (decimal.Decimal, bool) {
	if c.ctl == nil {
		return decimal.Zero, false
	}
	deck, err := c.ctl.Deck(ctx, plan)
	if err != nil {
		return decimal.Zero, false
	}
	r, ok := deck.Find(n.E164, string(n.Type), time.Now())
	if !ok {
		return decimal.Zero, false
	}
	return r.PerMinute, true
}

// Route implements b2bua.Router: the caller-ID check of the app's From
// user, then the route of the dialed number (refused when blocked), each
// trunk with the caller ID its policy presents (trunks.CheckCaller and
// CallerIDConfig.Present are the one rule).
func (c *carriers) Route(ctx context.Context, acct *dialtone.Account, dialed, caller string) (b2bua.Destination, error) {
	if err := trunks.CheckCaller(acct, caller); err != nil {
		c.refused.WithLabelValues(refusedCallerID).Inc()
		return b2bua.Destination{}, err
	}
	d, err := c.router.Route(ctx, dialed, acct.Country)
	out := b2bua.Destination{E164: d.Number.E164, Type: string(d.Number.Type), Country: d.Number.Country}
	switch {
	case errors.Is(err, trunks.ErrPremium):
		c.refused.WithLabelValues(refusedPremium).Inc()
	case errors.Is(err, dialtone.ErrBlocked):
		c.refused.WithLabelValues(refusedBlocked).Inc()
	}
	if err != nil {
		return out, err
	}
	for _, a := range d.Attempts {
		tc := a.Carrier.Config
		id := tc.CallerID.Present(acct)
		t := b2bua.Trunk{Name: tc.Name, Host: a.Endpoint.Host, Port: a.Endpoint.Port, Transport: tc.Transport,
			Codecs: tc.Codecs, User: a.User, Username: tc.Username, Password: tc.Password,
			InviteTimeout: tc.InviteTimeout.D(), CallerID: id.From, PAI: id.PAI,
			Privacy: id.Privacy, Headers: tc.Headers, Acquire: a.Carrier.Gate.Acquire}
		if a.Err != nil { // skipped as "dns" in the call's record; the detail is logged here
			c.log.Warn("carrier skipped", "trunk", tc.Name, "error", a.Err)
			t.Acquire = func() (func(), error) { return nil, skipReason(a.Err) }
		}
		out.Trunks = append(out.Trunks, t)
	}
	return out, nil
}

// skipReason is the short reason a CDR's attempts show for a carrier not
// tried, e.g. "carrier1=skipped:dns".
func skipReason(err error) error {
	if errors.Is(err, trunks.ErrDNS) {
		return trunks.ErrDNS
	}
	return err
}
