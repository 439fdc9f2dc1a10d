package billing

import (
	"fmt"
	"os"
	"time"

	"github.com/dialtone/dialtone"
)

// Settings is the billing section of the configuration file: how credit
// control reserves, prices and bounds calls. Every key is documented in
// README.md. DefaultSettings gives the defaults; Validate checks a decoded
// section and changes nothing.
type Settings struct {
	Node            string        `yaml:"node"`              // names this switch's open calls; default: the host name
	Interval        time.Duration `yaml:"interval"`          // credit reserved at a time while a call runs
	CreditLead      time.Duration `yaml:"credit_lead"`       // more credit is asked for this long before it runs out
	Rounding        Rounding      `yaml:"rounding"`          // of call prices
	DefaultPlan     string        `yaml:"default_plan"`      // sell plan of accounts without one
	Unbilled        string        `yaml:"unbilled"`          // calls of accounts with no plan at all: refuse (default) or allow (free)
	RatesCacheTTL   time.Duration `yaml:"rates_cache_ttl"`   // an imported deck is used within this
	MaxCallDuration time.Duration `yaml:"max_call_duration"` // the longest call authorized
	Heartbeat       time.Duration `yaml:"heartbeat"`         // this node renews its lease in the store this often
	LeaseLapse      time.Duration `yaml:"lease_lapse"`       // a node whose lease is this old is dead: another settles its calls
}

// DefaultSettings are the billing defaults, applied before the file is
// read. The node is the host name.
func DefaultSettings() Settings {
	host, _ := os.Hostname()
	return Settings{
		Node:     host,
		Interval: 60 * time.Second, CreditLead: 5 * time.Second,
		Rounding:      DefaultRounding,
		Unbilled:      UnbilledRefuse,
		RatesCacheTTL: 10 * time.Second, MaxCallDuration: 4 * time.Hour,
		Heartbeat: 3 * time.Second, LeaseLapse: 15 * time.Second,
	}
}

// Validate reports the first problem, naming its key (billing.*).
func (s Settings) Validate() error {
	if s.Node == "" {
		return fmt.Errorf("billing.node: must not be empty (the default is the host name)")
	}
	if s.Interval < time.Second || s.Interval > time.Hour {
		return fmt.Errorf("billing.interval: %v is outside 1s-1h", s.Interval)
	}
	if s.CreditLead < 0 || s.CreditLead >= s.Interval {
		return fmt.Errorf("billing.credit_lead: %v must be at least 0 and below billing.interval", s.CreditLead)
	}
	if err := s.Rounding.Validate(); err != nil {
		return fmt.Errorf("billing.rounding: %v", err)
	}
	if s.Unbilled != UnbilledRefuse && s.Unbilled != UnbilledAllow {
		return fmt.Errorf("billing.unbilled: %q: want %s (calls of accounts without a rate plan are refused) or %s (they connect free)",
			s.Unbilled, UnbilledRefuse, UnbilledAllow)
	}
	if s.RatesCacheTTL < 0 {
		return fmt.Errorf("billing.rates_cache_ttl: must not be negative")
	}
	if s.MaxCallDuration < time.Minute {
		return fmt.Errorf("billing.max_call_duration: %v is shorter than 1m", s.MaxCallDuration)
	}
	if s.Heartbeat < 100*time.Millisecond || s.Heartbeat > time.Minute {
		return fmt.Errorf("billing.heartbeat: %v is outside 100ms-1m", s.Heartbeat)
	}
	if s.LeaseLapse < 3*s.Heartbeat || s.LeaseLapse > time.Hour {
		return fmt.Errorf("billing.lease_lapse: %v must be at least 3 heartbeats (3 x %v) and at most 1h", s.LeaseLapse, s.Heartbeat)
	}
	return nil
}

// Lease is the configuration of this node's lease these settings give.
func (s Settings) Lease() LeaseConfig {
	return LeaseConfig{Heartbeat: s.Heartbeat, Lapse: s.LeaseLapse}
}

// The values of billing.unbilled.
const (
	UnbilledRefuse = "refuse" // an account without a rate plan cannot call
	UnbilledAllow  = "allow"  // its calls connect and are not billed: a free service, said on purpose
)

// FreeCalls reports whether an account without a rate plan calls for free:
// only when no default plan is set and billing.unbilled is allow.
func (s Settings) FreeCalls() bool { return s.DefaultPlan == "" && s.Unbilled == UnbilledAllow }

// Config is the controller's configuration these settings give; buy names
// each trunk's buy deck.
func (s Settings) Config(buy func(trunk string) string) Config {
	return Config{Node: s.Node, Interval: s.Interval, Rounding: s.Rounding, DefaultPlan: s.DefaultPlan, Unbilled: s.Unbilled == UnbilledAllow,
		BuyPlan: buy, RatesTTL: s.RatesCacheTTL, MaxDuration: s.MaxCallDuration}
}

// BundleSettings is one entry of the bundles section of the configuration
// file: a minute bundle product on sale.
type BundleSettings struct {
	Code        string   `yaml:"code"`
	Name        string   `yaml:"name"`
	Minutes     int64    `yaml:"minutes"`
	Price       string   `yaml:"price"` // decimal, e.g. "0.99"
	Currency    string   `yaml:"currency"`
	Days        int      `yaml:"days"`         // validity
	Countries   []string `yaml:"countries"`    // ISO 3166 regions; empty: any
	NumberTypes []string `yaml:"number_types"` // dialtone.NumberTypes; empty: any
	Increment   int64    `yaml:"increment"`    // seconds; 0: 60
}

// Bundle is the product bs describes, checked (dialtone.Bundle.Validate).
func (bs BundleSettings) Bundle() (dialtone.Bundle, error) {
	b := dialtone.Bundle{Code: bs.Code, Name: bs.Name, Seconds: bs.Minutes * 60, Currency: bs.Currency,
		Validity: time.Duration(bs.Days) * 24 * time.Hour, Countries: bs.Countries, NumberTypes: bs.NumberTypes, Increment: bs.Increment}
	if b.Increment == 0 {
		b.Increment = 60
	}
	price, err := dialtone.ParseAmount(bs.Price)
	if err != nil || !price.IsPositive() {
		return b, fmt.Errorf("%w: price %q is not a positive amount", dialtone.ErrInvalid, bs.Price)
	}
	b.Price = price
	return b, b.Validate()
}

// Catalog is the products of the bundles section, checked: the first
// problem names its key (bundles[i]).
func Catalog(bundles []BundleSettings) ([]dialtone.Bundle, error) {
	out := make([]dialtone.Bundle, 0, len(bundles))
	codes := map[string]bool{}
	for i, bs := range bundles {
		key := fmt.Sprintf("bundles[%d]", i)
		b, err := bs.Bundle()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", key, err)
		}
		if codes[b.Code] {
			return nil, fmt.Errorf("%s.code: %q is defined twice", key, b.Code)
		}
		codes[b.Code] = true
		out = append(out, b)
	}
	return out, nil
}
