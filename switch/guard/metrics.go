package guard

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the guard's Prometheus series. A nil *Metrics counts nothing.
type Metrics struct {
	bans     *prometheus.CounterVec // by reason
	dropped  *prometheus.CounterVec // by transport and why
	failures *prometheus.CounterVec // by transport
	reg      prometheus.Registerer
}

// NewMetrics registers the guard's series on reg; the gauge of bans in
// force is registered by New, which it reads.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		bans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_guard_bans_total", Help: "Sources banned, by reason (auth, flood).",
		}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_guard_requests_dropped_total", Help: "SIP requests (datagrams on UDP, connections at accept on the other transports) refused, by transport and why (banned, throttled, connections: too many from the source).",
		}, []string{"transport", "why"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_guard_auth_failures_total", Help: "Authentication failures counted, by transport.",
		}, []string{"transport"}),
		reg: reg,
	}
	reg.MustRegister(m.bans, m.dropped, m.failures)
	return m
}

// watch registers the gauge of bans in force, read from g.
func (m *Metrics) watch(g *Guard) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dialtone_guard_bans_active", Help: "Sources banned now.",
	}, func() float64 { return float64(len(g.Bans())) }))
}

func (m *Metrics) banned(r Reason) {
	if m != nil {
		m.bans.WithLabelValues(string(r)).Inc()
	}
}

func (m *Metrics) drop(transport, why string) {
	if m != nil {
		m.dropped.WithLabelValues(transport, why).Inc()
	}
}

func (m *Metrics) failure(transport string) {
	if m != nil {
		m.failures.WithLabelValues(transport).Inc()
	}
}
