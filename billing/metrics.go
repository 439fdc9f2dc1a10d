package billing

import "github.com/prometheus/client_golang/prometheus"

// Metrics are credit control's Prometheus collectors. A nil *Metrics
// counts nothing.
type Metrics struct {
	freeCalls         prometheus.Counter
	heartbeatFailures prometheus.Counter
	leaseClaims       prometheus.Counter
	deadNodeCalls     prometheus.Counter
	lostCalls         prometheus.Counter
}

// NewMetrics registers the collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		freeCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_billing_free_calls_total",
			Help: "Answered calls rated at price 0 (no bundle time either) to a destination whose carrier charges us: a rate plan priced at zero by mistake.",
		}),
		heartbeatFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_lease_heartbeat_failures_total",
			Help: "Heartbeats of this node's lease that the store did not take; past billing.lease_lapse other nodes settle its calls.",
		}),
		leaseClaims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_lease_claims_total",
			Help: "Lapsed leases of other switch nodes whose calls in progress this node claimed.",
		}),
		deadNodeCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_lease_settled_calls_total",
			Help: "Calls of dead switch nodes (lapsed leases) that this node settled: one CDR each.",
		}),
		lostCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_lease_lost_calls_total",
			Help: "Calls in progress on this node that another node took over after this node's lease lapsed (a pause, a partition from the database).",
		}),
	}
	reg.MustRegister(m.freeCalls, m.heartbeatFailures, m.leaseClaims, m.deadNodeCalls, m.lostCalls)
	return m
}

func (m *Metrics) free() {
	if m != nil {
		m.freeCalls.Inc()
	}
}

func (m *Metrics) heartbeatFailed() {
	if m != nil {
		m.heartbeatFailures.Inc()
	}
}

func (m *Metrics) claimed() {
	if m != nil {
		m.leaseClaims.Inc()
	}
}

func (m *Metrics) settledForDead() {
	if m != nil {
		m.deadNodeCalls.Inc()
	}
}

func (m *Metrics) lostCall() {
	if m != nil {
		m.lostCalls.Inc()
	}
}
