package health

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialtone/dialtone/trunks"
)

// Collector exports each carrier's health and channels in use, read from
// the carriers in force at each scrape.
type Collector struct {
	carriers     func() *trunks.Carriers
	up, channels *prometheus.Desc
}

// NewCollector exports the gates of the carriers that carriers gives
// (trunks.Router.Carriers).
func NewCollector(carriers func() *trunks.Carriers) *Collector {
	return &Collector{carriers: carriers,
		up:       prometheus.NewDesc("dialtone_trunk_up", "1 when the carrier is up by its health checks.", []string{"trunk"}, nil),
		channels: prometheus.NewDesc("dialtone_trunk_channels", "Channels in use on the carrier.", []string{"trunk"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.up; ch <- c.channels }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, k := range c.carriers().All() {
		up, _, _ := k.Gate.State()
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, v, k.Name())
		ch <- prometheus.MustNewConstMetric(c.channels, prometheus.GaugeValue, float64(k.Gate.Channels()), k.Name())
	}
}
