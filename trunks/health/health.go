// Package health checks carriers with SIP OPTIONS (RFC 3261 section 11)
// and marks their gates up or down: a carrier is down after
// options.down_after failures in a row and up again after options.up_after
// answers. Any final answer below 500 counts as an answer: a carrier that
// says 404 or 405 to OPTIONS is there.
//
// Concurrency: a Monitor runs one goroutine per checked carrier; Restart
// replaces them after a reload and Stop waits for them. It is safe for
// concurrent use.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone/trunks"
)

// Endpoints gives a carrier's addresses in the order to try them
// (trunks.Router.Endpoints).
type Endpoints func(ctx context.Context, c *trunks.Carrier) ([]trunks.Endpoint, error)

// Monitor pings each carrier that has options.interval set.
type Monitor struct {
	loops     trunks.Loops
	client    *sipgo.Client
	endpoints Endpoints
	log       *slog.Logger
}

// New makes a Monitor that sends OPTIONS with client.
func New(client *sipgo.Client, endpoints Endpoints, log *slog.Logger) *Monitor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{client: client, endpoints: endpoints, log: log}
}

// Restart stops the checks of the previous carriers and starts cs's. A
// carrier without checks is marked up.
func (m *Monitor) Restart(cs *trunks.Carriers) {
	m.loops.Restart(cs, func(c *trunks.Carrier) bool {
		if c.Config.Options.Interval <= 0 {
			c.Gate.SetUp(true, "") // not checked: always up
			return false
		}
		return true
	}, m.watch)
}

// Stop ends the checks and waits for them.
func (m *Monitor) Stop() { m.loops.Stop() }

func (m *Monitor) watch(ctx context.Context, c *trunks.Carrier) {
	o := c.Config.Options
	state := trunks.Health{DownAfter: o.DownAfter, UpAfter: o.UpAfter}
	t := time.NewTicker(o.Interval.D())
	defer t.Stop()
	for {
		err := m.Check(ctx, c)
		if ctx.Err() != nil {
			return
		}
		up, _, _ := c.Gate.State()
		if changed, nowUp := state.Record(err == nil, up); changed {
			if nowUp {
				c.Gate.SetUp(true, "")
				m.log.Info("carrier up", "trunk", c.Name())
			} else {
				c.Gate.SetUp(false, err.Error())
				m.log.Warn("carrier down", "trunk", c.Name(), "reason", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check sends OPTIONS to the carrier's addresses in order until one
// answers; nil means one did, else the first address's failure. A DNS
// failure is returned as it is (it wraps trunks.ErrDNS).
func (m *Monitor) Check(ctx context.Context, c *trunks.Carrier) error {
	eps, err := m.endpoints(ctx, c)
	if err != nil {
		return err
	}
	var first error
	for _, ep := range eps {
		err := m.ping(ctx, c, ep)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return fmt.Errorf("OPTIONS: no address")
	}
	return first
}

func (m *Monitor) ping(ctx context.Context, c *trunks.Carrier, ep trunks.Endpoint) error {
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: ep.Host, Port: ep.Port})
	req.SetTransport(strings.ToUpper(c.Config.Transport))
	req.SetDestination(ep.String())
	timeout := c.Config.Options.Timeout.D()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := m.client.Do(ctx, req)
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("OPTIONS: no answer within %v", timeout)
	case err != nil:
		return fmt.Errorf("OPTIONS: %w", err)
	case res.StatusCode >= 500:
		return fmt.Errorf("OPTIONS: %d %s", res.StatusCode, res.Reason)
	}
	return nil
}
