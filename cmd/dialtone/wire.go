package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/media/bridge"
	"github.com/dialtone/dialtone/media/rtp"
	"github.com/dialtone/dialtone/media/webrtc"
	"github.com/dialtone/dialtone/switch/b2bua"
	"github.com/dialtone/dialtone/switch/limits"
)

// credit adapts billing.Controller to b2bua.Credit.
type credit struct {
	c *billing.Controller
}

func newCredit(cfg *Config, st dialtone.Store, buy func(trunk string) string, now func() time.Time, reg prometheus.Registerer, log *slog.Logger) (*billing.Controller, error) {
	if cfg.Billing.FreeCalls() {
		log.Warn("FREE CALLS: billing.unbilled is allow and billing.default_plan is empty: accounts without a rate plan call for free",
			"api.signup", cfg.API.Signup)
	}
	c := cfg.Billing.Config(buy)
	c.Metrics = billing.NewMetrics(reg)
	return billing.NewController(c, st, now, log)
}

func (a credit) Authorize(ctx context.Context, req b2bua.CreditRequest) (b2bua.CreditCall, error) {
	k, err := a.c.Authorize(ctx, billing.Request{CallID: req.CallID, Account: req.Account, E164: req.Destination.E164,
		Country: req.Destination.Country, NumberType: req.Destination.Type, CDR: req.CDR})
	if k == nil || err != nil {
		return nil, err // a nil *billing.Call must not become a non-nil interface
	}
	return k, nil
}

// rater adapts billing.Controller to limits.Rater.
type rater struct {
	c *billing.Controller
}

func (a rater) SellRate(ctx context.Context, acct *dialtone.Account, e164, numberType string) (decimal.Decimal, bool, error) {
	r, ok, err := a.c.Quote(ctx, acct, e164, numberType)
	return r.PerMinute, ok, err
}

// admitter adapts limits.Limiter to b2bua.Limits.
type admitter struct {
	l *limits.Limiter
}

func (a admitter) Admit(ctx context.Context, acct *dialtone.Account, dest b2bua.Destination) (func(), error) {
	return a.l.Admit(ctx, acct, limits.Call{E164: dest.E164, Country: dest.Country, NumberType: dest.Type})
}

// mediaFactory adapts media/bridge to b2bua.Media.
type mediaFactory struct {
	f      *bridge.Factory
	webrtc *webrtc.Engine // nil when WebRTC is off
}

func newMediaFactory(c bridge.Settings, reg prometheus.Registerer, log *slog.Logger) (*mediaFactory, error) {
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
	reg.MustRegister(rtp.PacketSeconds)
	m := &mediaFactory{}
	if c.WebRTC.Listen != "" {
		wc := webrtc.Config{Bind: netip.MustParseAddrPort(c.WebRTC.Listen), HandshakeTimeout: c.WebRTC.HandshakeTimeout, Log: log.With("leg", "webrtc")}
		for _, a := range c.WebRTC.Advertise {
			wc.Advertise = append(wc.Advertise, netip.MustParseAddr(a)) // validated with the config
		}
		if m.webrtc, err = webrtc.New(wc); err != nil {
			return nil, fmt.Errorf("media.webrtc: %w", err)
		}
	}
	m.f = bridge.NewFactory(bridge.Config{Pool: pool, Advertise: adv, Timeout: c.Timeout, WebRTC: m.webrtc, Opus: c.Opus, Strict: c.StrictRTP})
	return m, nil
}

// Close stops the WebRTC leg's socket; calls are over by then.
func (m *mediaFactory) Close() error {
	if m.webrtc == nil {
		return nil
	}
	return m.webrtc.Close()
}

func (m *mediaFactory) Bridge(ctx context.Context, callID string, appOffer []byte) (b2bua.Bridge, error) {
	b, err := m.f.New(ctx, callID, appOffer)
	if err != nil {
		return nil, err
	}
	return b, nil
}
