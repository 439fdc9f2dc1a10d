package trunks

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the carrier side of the configuration file: the trunks and
// the routes over them. Defaults fills what a trunk leaves out; Validate
// then reports the first problem, naming its key (trunks[1].address).
type Config struct {
	Trunks       []TrunkConfig      `yaml:"trunks"`
	Routes       []RouteConfig      `yaml:"routes"`
	Destinations DestinationsConfig `yaml:"destinations"`
}

// TrunkConfig is one carrier. Every key is documented in README.md.
type TrunkConfig struct {
	Name          string            `yaml:"name"`
	Address       string            `yaml:"address"`   // host:port of the carrier's SIP server
	Addresses     []string          `yaml:"addresses"` // or several, tried in this order
	SRV           string            `yaml:"srv"`       // or a domain whose SIP servers DNS SRV gives (RFC 3263)
	Transport     string            `yaml:"transport"` // udp, tcp, tls
	TLSCA         string            `yaml:"tls_ca"`    // PEM file of CAs that sign the carrier's certificate (besides the system's)
	Codecs        []string          `yaml:"codecs"`    // offered in this order
	BuyPlan       string            `yaml:"buy_plan"`  // rate plan holding this carrier's buy deck, for cost, margin and least-cost routing
	Username      string            `yaml:"username"`  // answers the carrier's 401/407 challenges
	Password      string            `yaml:"password"`  // use ${ENV}
	MaxChannels   int               `yaml:"max_channels"`
	MaxCPS        float64           `yaml:"max_cps"`
	InviteTimeout Duration          `yaml:"invite_timeout"` // no response at all within this: next carrier
	Rewrite       RewriteConfig     `yaml:"rewrite"`
	CallerID      CallerIDConfig    `yaml:"caller_id"`
	Headers       map[string]string `yaml:"headers"`
	Options       OptionsConfig     `yaml:"options"`
	Register      RegisterConfig    `yaml:"register"`
}

// RegisterConfig makes the switch register with the carrier (outbound
// REGISTER, RFC 3261 section 10), refreshed before it expires.
type RegisterConfig struct {
	Enabled bool     `yaml:"enabled"`
	Expires Duration `yaml:"expires"` // asked for; the carrier's answer counts
	Retry   Duration `yaml:"retry"`   // wait after a failed attempt
}

// RewriteConfig turns E.164 digits into what the carrier wants in the
// Request-URI: strip leading digits, then add a prefix, then a tech prefix.
type RewriteConfig struct {
	Strip      int    `yaml:"strip"`
	Prefix     string `yaml:"prefix"`
	TechPrefix string `yaml:"tech_prefix"`
}

// CallerIDConfig is what the carrier is told about the caller.
type CallerIDConfig struct {
	From    string `yaml:"from"`    // fixed From user; empty: the account's verified number (see Present)
	PAI     bool   `yaml:"pai"`     // send P-Asserted-Identity
	Privacy bool   `yaml:"privacy"` // anonymous From, Privacy: id
}

// OptionsConfig is the carrier's health check.
type OptionsConfig struct {
	Interval  Duration `yaml:"interval"`   // 0 turns pings off
	Timeout   Duration `yaml:"timeout"`    // one ping's wait
	DownAfter int      `yaml:"down_after"` // failures in a row that mark it down
	UpAfter   int      `yaml:"up_after"`   // successes in a row that mark it up
}

// RouteConfig is one route of the table (see Route).
type RouteConfig struct {
	Prefix    string   `yaml:"prefix"` // E.164 digits without '+'; empty matches every number
	Types     []string `yaml:"types"`  // mobile, fixed, toll_free, premium, other; empty = any
	Trunks    []string `yaml:"trunks"`
	LeastCost bool     `yaml:"least_cost"` // order the trunks by their buy decks' rate for the number
	Shares    []int    `yaml:"shares"`     // weights of the trunks for the first try, e.g. [70, 30]
}

// Duration is a time.Duration written as "30s" or "5m".
type Duration time.Duration

// UnmarshalText reads "30s", "5m", "0".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30s or 5m", b)
	}
	*d = Duration(v)
	return nil
}

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// AddressList is the carrier's configured addresses in the order they are
// tried; empty when SRV gives them.
func (t TrunkConfig) AddressList() []string {
	if t.Address != "" {
		return []string{t.Address}
	}
	return t.Addresses
}

// Defaults fills what each trunk leaves out: transport udp, codecs PCMU
// and PCMA, the health check's timeout and thresholds, and a registering
// trunk's expiry and retry.
func (c *Config) Defaults() {
	for i := range c.Trunks {
		t := &c.Trunks[i]
		if t.Transport == "" {
			t.Transport = "udp"
		}
		if len(t.Codecs) == 0 {
			t.Codecs = []string{"PCMU", "PCMA"}
		}
		if r := &t.Register; r.Enabled {
			if r.Expires == 0 {
				r.Expires = Duration(10 * time.Minute)
			}
			if r.Retry == 0 {
				r.Retry = Duration(30 * time.Second)
			}
		}
		o := &t.Options
		if o.Timeout <= 0 {
			o.Timeout = Duration(2 * time.Second)
		}
		if o.DownAfter <= 0 {
			o.DownAfter = 3
		}
		if o.UpAfter <= 0 {
			o.UpAfter = 2
		}
	}
}

// Validate reports the first problem, naming its key: trunks[i].key,
// routes[i].key or destinations.key. Call Defaults first.
func (c *Config) Validate() error {
	names := map[string]bool{}
	for i, t := range c.Trunks {
		if err := t.validate(names); err != nil {
			return fmt.Errorf("trunks[%d].%w", i, err)
		}
		names[t.Name] = true
	}
	routes := make([]Route, 0, len(c.Routes))
	for i, r := range c.Routes {
		route, err := r.route(func(name string) bool { return names[name] })
		if err != nil {
			return fmt.Errorf("routes[%d].%w", i, err)
		}
		routes = append(routes, route)
	}
	if _, err := NewTable(routes); err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	if _, err := NewBlocklist(c.Destinations); err != nil {
		return fmt.Errorf("destinations.%w", err)
	}
	return nil
}

// keyError is a problem with one key of a section; the section's index
// goes in front of it.
func keyError(key, format string, a ...any) error {
	return fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...))
}

func (t TrunkConfig) validate(defined map[string]bool) error {
	if t.Name == "" {
		return keyError("name", "must not be empty")
	}
	if defined[t.Name] {
		return keyError("name", "%q is defined twice", t.Name)
	}
	given := 0
	for _, g := range []bool{t.Address != "", len(t.Addresses) > 0, t.SRV != ""} {
		if g {
			given++
		}
	}
	if given != 1 {
		return keyError("address", "give one of address, addresses or srv")
	}
	if t.SRV != "" && (!validHostName(t.SRV) || !strings.Contains(t.SRV, ".")) {
		return keyError("srv", "%q is not a domain name", t.SRV)
	}
	if t.Address != "" {
		if _, err := ParseEndpoint(t.Address); err != nil {
			return keyError("address", "%v", err)
		}
	}
	for i, a := range t.Addresses {
		if _, err := ParseEndpoint(a); err != nil {
			return keyError(fmt.Sprintf("addresses[%d]", i), "%v", err)
		}
	}
	if t.Transport != "udp" && t.Transport != "tcp" && t.Transport != "tls" {
		return keyError("transport", "%q is not one of udp, tcp, tls", t.Transport)
	}
	if t.TLSCA != "" {
		if t.Transport != "tls" {
			return keyError("tls_ca", "is for transport tls only")
		}
		if _, err := os.Stat(t.TLSCA); err != nil {
			return keyError("tls_ca", "%v", err)
		}
	}
	if t.MaxChannels < 0 {
		return keyError("max_channels", "must not be negative")
	}
	if t.MaxCPS < 0 {
		return keyError("max_cps", "must not be negative")
	}
	if t.InviteTimeout < 0 {
		return keyError("invite_timeout", "must not be negative")
	}
	if (t.Username == "") != (t.Password == "") {
		return keyError("password", "username and password go together")
	}
	if t.Rewrite.Strip < 0 || t.Rewrite.Strip > 6 {
		return keyError("rewrite.strip", "%d is outside 0-6", t.Rewrite.Strip)
	}
	if strings.Trim(t.Rewrite.Prefix, "0123456789") != "" {
		return keyError("rewrite.prefix", "%q must be digits", t.Rewrite.Prefix)
	}
	if strings.ContainsAny(t.Rewrite.TechPrefix+t.CallerID.From, "@:;<> ") {
		return keyError("rewrite", "tech_prefix and caller_id.from may not hold @ : ; < > or spaces")
	}
	for h, v := range t.Headers {
		if h == "" || strings.ContainsAny(h, ": \r\n") || strings.ContainsAny(v, "\r\n") {
			return keyError("headers", "%q is not a header name with a one-line value", h)
		}
	}
	if r := t.Register; r.Enabled && (r.Expires.D() < 10*time.Second || r.Retry.D() < time.Second) {
		return keyError("register", "expires must be at least 10s and retry at least 1s")
	}
	if o := t.Options; o.Interval < 0 || (o.Interval > 0 && o.Interval.D() < time.Second) {
		return keyError("options.interval", "%v: want 0 (off) or at least 1s", o.Interval.D())
	}
	if len(t.Codecs) == 0 {
		return keyError("codecs", "needs at least one of PCMU, PCMA")
	}
	for _, codec := range t.Codecs {
		if codec != "PCMU" && codec != "PCMA" {
			return keyError("codecs", "%q is not one of PCMU, PCMA", codec)
		}
	}
	return nil
}

// route checks r against the trunks defined and gives the table's Route.
func (r RouteConfig) route(defined func(trunk string) bool) (Route, error) {
	if strings.Trim(r.Prefix, "0123456789") != "" {
		return Route{}, keyError("prefix", "%q must be digits only (E.164 without '+')", r.Prefix)
	}
	if len(r.Trunks) == 0 {
		return Route{}, keyError("trunks", "needs at least one trunk")
	}
	if len(r.Shares) > 0 {
		if len(r.Shares) != len(r.Trunks) || r.LeastCost {
			return Route{}, keyError("shares", "needs one weight per trunk, and not with least_cost")
		}
		for _, w := range r.Shares {
			if w < 0 {
				return Route{}, keyError("shares", "weights must not be negative")
			}
		}
	}
	for _, name := range r.Trunks {
		if !defined(name) {
			return Route{}, keyError("trunks", "trunk %q is not defined under trunks", name)
		}
	}
	route := Route{Prefix: r.Prefix, Trunks: r.Trunks, LeastCost: r.LeastCost, Shares: r.Shares}
	for _, s := range r.Types {
		t, err := ParseNumberType(s)
		if err != nil {
			return Route{}, keyError("types", "%v", err)
		}
		route.Types = append(route.Types, t)
	}
	return route, nil
}

// Endpoint is one address of a carrier's SIP server: a host name or IP,
// and a port.
type Endpoint struct {
	Host string
	Port int
}

// ParseEndpoint reads host:port with a port of 1-65535; the host is an
// IP address or a DNS name (RFC 1123 labels, as SIP's hostname in RFC
// 3261 section 25.1).
func ParseEndpoint(s string) (Endpoint, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return Endpoint{}, fmt.Errorf("%q is not host:port", s)
	}
	if _, err := netip.ParseAddr(host); err != nil && !validHostName(host) {
		return Endpoint{}, fmt.Errorf("%q: %q is not a host name or IP address", s, host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return Endpoint{}, fmt.Errorf("%q: port %q is not 1-65535", s, portStr)
	}
	return Endpoint{Host: host, Port: port}, nil
}

// validHostName is true for a DNS name: dot-separated labels of letters,
// digits and inner hyphens, each 1-63 long, 253 in all, and a last label
// that is not all digits (that would be a mistyped IP address). A final
// dot is allowed; so is an underscore, which SRV-style names carry.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// String is host:port.
func (e Endpoint) String() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }
