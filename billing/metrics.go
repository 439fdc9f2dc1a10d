package billing

import "github.com/prometheus/client_golang/prometheus"

// Metrics are credit control's Prometheus collectors. A nil *Metrics
// counts nothing.
type Metrics struct {
	freeCalls prometheus.Counter
}

// NewMetrics registers the collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		freeCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_billing_free_calls_total",
			Help: "Answered calls rated at price 0 (no bundle time either) to a destination whose carrier charges us: a rate plan priced at zero by mistake.",
		}),
	}
	reg.MustRegister(m.freeCalls)
	return m
}

func (m *Metrics) free() {
	if m != nil {
		m.freeCalls.Inc()
	}
}
