package b2bua

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialtone/dialtone"
)

// Metrics are the call controller's Prometheus collectors.
type Metrics struct {
	active        prometheus.Gauge
	attempts      prometheus.Counter
	outcomes      *prometheus.CounterVec // by SIP code sent to the app and disposition
	trunkAttempts *prometheus.CounterVec
	trunkAnswered *prometheus.CounterVec
	trunkFailures *prometheus.CounterVec // by trunk and carrier code or failure kind
	mediaTimeouts prometheus.Counter
	rtpPackets    *prometheus.CounterVec // by leg
	rtpLost       *prometheus.CounterVec // by leg
	billed        prometheus.Counter
	creditCutoffs prometheus.Counter
}

// NewMetrics registers the collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dialtone_calls_active", Help: "Calls being set up or connected.",
		}),
		attempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_call_attempts_total", Help: "Authenticated INVITEs that started a call attempt.",
		}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_call_outcomes_total", Help: "Ended call attempts by final SIP code sent to the app and disposition.",
		}, []string{"code", "disposition"}),
		trunkAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_trunk_attempts_total", Help: "INVITEs sent to each trunk.",
		}, []string{"trunk"}),
		trunkAnswered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_trunk_answered_total", Help: "Calls each trunk answered.",
		}, []string{"trunk"}),
		trunkFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_trunk_failures_total", Help: "Failed attempts per trunk by carrier SIP code or failure kind.",
		}, []string{"trunk", "cause"}),
		mediaTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_media_timeouts_total", Help: "Calls ended because no RTP arrived for media.timeout.",
		}),
		rtpPackets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_rtp_packets_total", Help: "RTP packets received per leg over ended calls.",
		}, []string{"leg"}),
		rtpLost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialtone_rtp_packets_lost_total", Help: "RTP packets lost per leg (sequence gaps) over ended calls.",
		}, []string{"leg"}),
		billed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_billed_seconds_total", Help: "Billed seconds of answered calls.",
		}),
		creditCutoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialtone_credit_cutoffs_total", Help: "Calls ended because the account's credit ran out.",
		}),
	}
	reg.MustRegister(m.active, m.attempts, m.outcomes, m.trunkAttempts, m.trunkAnswered,
		m.trunkFailures, m.mediaTimeouts, m.rtpPackets, m.rtpLost, m.billed, m.creditCutoffs)
	return m
}

func (m *Metrics) observe(c *dialtone.CDR) {
	m.outcomes.WithLabelValues(strconv.Itoa(c.SIPCode), string(c.Disposition)).Inc()
	m.rtpPackets.WithLabelValues("app").Add(float64(c.AppPackets))
	m.rtpPackets.WithLabelValues("carrier").Add(float64(c.CarrierPackets))
	m.rtpLost.WithLabelValues("app").Add(float64(c.AppLost))
	m.rtpLost.WithLabelValues("carrier").Add(float64(c.CarrierLost))
	m.billed.Add(float64(c.BilledSeconds))
}
