package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/companion"
	"github.com/dialtone/dialtone/media/bridge"
	"github.com/dialtone/dialtone/web"
)

// Config is the whole configuration file. Every key is documented in
// README.md. Each section is the type of the package that owns it, with
// its defaults and its Validate; this file only reads YAML into them.
type Config struct {
	Log      LogConfig                `yaml:"log"`
	Store    StoreConfig              `yaml:"store"`
	SIP      SIPConfig                `yaml:"sip"`
	Media    bridge.Settings          `yaml:"media"`
	Trunks   []TrunkConfig            `yaml:"trunks"`
	Routes   []RouteConfig            `yaml:"routes"`
	HTTP     HTTPConfig               `yaml:"http"`
	Shutdown ShutdownConfig           `yaml:"shutdown"`
	Billing  billing.Settings         `yaml:"billing"`
	Bundles  []billing.BundleSettings `yaml:"bundles"`
	API      companion.Settings       `yaml:"api"`
	Web      web.Settings             `yaml:"web"`
}

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

// Endpoints are the carrier's addresses in the order they are tried.
func (t TrunkConfig) Endpoints() []string {
	if t.Address != "" {
		return []string{t.Address}
	}
	return t.Addresses
}

// RewriteConfig turns E.164 digits into what the carrier wants in the
// Request-URI: strip leading digits, then add a prefix, then a tech prefix.
type RewriteConfig struct {
	Strip      int    `yaml:"strip"`
	Prefix     string `yaml:"prefix"`
	TechPrefix string `yaml:"tech_prefix"`
}

type CallerIDConfig struct {
	From    string `yaml:"from"`    // fixed From user; empty: the app's number or account
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

type RouteConfig struct {
	Prefix    string   `yaml:"prefix"` // E.164 digits without '+'; empty matches every number
	Types     []string `yaml:"types"`  // mobile, fixed, toll_free, premium, other; empty = any
	Trunks    []string `yaml:"trunks"`
	LeastCost bool     `yaml:"least_cost"` // order the trunks by their buy decks' rate for the number
	Shares    []int    `yaml:"shares"`     // weights of the trunks for the first try, e.g. [70, 30]
}

// Duration is a time.Duration written as "30s", "5m" in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 30s or 5m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) D() time.Duration { return time.Duration(d) }

// defaultConfig is every section's defaults, applied before the file is
// read; the file overrides them. Validation changes nothing.
func defaultConfig() Config {
	return Config{
		Log:      defaultLogConfig(),
		Store:    defaultStoreConfig(),
		SIP:      defaultSIPConfig(),
		Media:    bridge.DefaultSettings(),
		HTTP:     defaultHTTPConfig(),
		Shutdown: defaultShutdownConfig(),
		Billing:  billing.DefaultSettings(),
		API:      companion.DefaultSettings(),
		Web:      web.DefaultSettings(),
	}
}

// envRef matches ${NAME}; a bare $ is left alone so passwords may hold one.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// LoadConfig reads, expands and validates the file at path. The error names
// the file, the key and what is wrong with it.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := ParseConfig(raw, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses YAML text over the defaults, then validates. In every
// value, ${NAME} is replaced by what lookup gives for NAME (comments are
// left alone).
func ParseConfig(raw []byte, lookup func(string) (string, bool)) (*Config, error) {
	cfg := defaultConfig()
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) > 0 { // an empty file means all defaults
		var missing []string
		expandEnv(&doc, lookup, &missing)
		if len(missing) > 0 {
			return nil, fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
		}
		var buf bytes.Buffer
		if err := yaml.NewEncoder(&buf).Encode(&doc); err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(&buf)
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s", badDuration.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), `"$1" is not a duration such as 30s or 5m`))
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// badDuration is how the YAML decoder reports a value that does not fit a
// time.Duration field; ParseConfig says it as Duration does.
var badDuration = regexp.MustCompile("cannot unmarshal !!\\w+ `([^`]*)` into time\\.Duration")

func expandEnv(n *yaml.Node, lookup func(string) (string, bool), missing *[]string) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := envRef.FindStringSubmatch(m)[1]
			v, ok := lookup(name)
			if !ok {
				*missing = append(*missing, name)
			}
			return v
		})
	}
	for _, c := range n.Content {
		expandEnv(c, lookup, missing)
	}
}

// Validate reports the first problem, naming its key. Each section checks
// itself; none changes anything, except the trunks and routes check below,
// which still fills in trunk defaults (it moves to package trunks).
func (c *Config) Validate() error {
	for _, section := range []interface{ Validate() error }{c.Log, c.Store, c.SIP, c.Media, c.HTTP, c.Shutdown, c.Web, c.Billing, c.API} {
		if err := section.Validate(); err != nil {
			return err
		}
	}
	if _, err := c.BundleCatalog(); err != nil {
		return err
	}
	return c.validateTrunks()
}

// BundleCatalog is the bundles section as the products on sale.
func (c *Config) BundleCatalog() ([]dialtone.Bundle, error) { return billing.Catalog(c.Bundles) }

// validateTrunks checks the trunks and routes sections, naming the key.
func (c *Config) validateTrunks() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...))
	}
	names := map[string]bool{}
	for i, t := range c.Trunks {
		key := fmt.Sprintf("trunks[%d]", i)
		if t.Name == "" {
			return bad(key+".name", "must not be empty")
		}
		if names[t.Name] {
			return bad(key+".name", "%q is defined twice", t.Name)
		}
		names[t.Name] = true
		given := 0
		for _, g := range []bool{t.Address != "", len(t.Addresses) > 0, t.SRV != ""} {
			if g {
				given++
			}
		}
		if given != 1 {
			return bad(key+".address", "give one of address, addresses or srv")
		}
		if t.SRV != "" && (strings.ContainsAny(t.SRV, ": /") || !strings.Contains(t.SRV, ".")) {
			return bad(key+".srv", "%q is not a domain name", t.SRV)
		}
		for _, a := range t.Endpoints() {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return bad(key+".address", "%q is not host:port", a)
			}
		}
		if t.Transport == "" {
			c.Trunks[i].Transport = "udp"
		} else if t.Transport != "udp" && t.Transport != "tcp" && t.Transport != "tls" {
			return bad(key+".transport", "%q is not one of udp, tcp, tls", t.Transport)
		}
		if t.TLSCA != "" {
			if t.Transport != "tls" {
				return bad(key+".tls_ca", "is for transport tls only")
			}
			if _, err := os.Stat(t.TLSCA); err != nil {
				return bad(key+".tls_ca", "%v", err)
			}
		}
		if len(t.Codecs) == 0 {
			c.Trunks[i].Codecs = []string{"PCMU", "PCMA"}
		}
		if t.MaxChannels < 0 {
			return bad(key+".max_channels", "must not be negative")
		}
		if t.MaxCPS < 0 {
			return bad(key+".max_cps", "must not be negative")
		}
		if t.InviteTimeout.D() < 0 {
			return bad(key+".invite_timeout", "must not be negative")
		}
		if (t.Username == "") != (t.Password == "") {
			return bad(key+".password", "username and password go together")
		}
		if t.Rewrite.Strip < 0 || t.Rewrite.Strip > 6 {
			return bad(key+".rewrite.strip", "%d is outside 0-6", t.Rewrite.Strip)
		}
		if strings.Trim(t.Rewrite.Prefix, "0123456789") != "" {
			return bad(key+".rewrite.prefix", "%q must be digits", t.Rewrite.Prefix)
		}
		if strings.ContainsAny(t.Rewrite.TechPrefix+t.CallerID.From, "@:;<> ") {
			return bad(key+".rewrite", "tech_prefix and caller_id.from may not hold @ : ; < > or spaces")
		}
		for h := range t.Headers {
			if h == "" || strings.ContainsAny(h, ": \r\n") || strings.ContainsAny(t.Headers[h], "\r\n") {
				return bad(key+".headers", "%q is not a header name with a one-line value", h)
			}
		}
		if r := &c.Trunks[i].Register; r.Enabled {
			if r.Expires.D() == 0 {
				r.Expires = Duration(10 * time.Minute)
			}
			if r.Retry.D() == 0 {
				r.Retry = Duration(30 * time.Second)
			}
			if r.Expires.D() < 10*time.Second || r.Retry.D() < time.Second {
				return bad(key+".register", "expires must be at least 10s and retry at least 1s")
			}
		}
		o := &c.Trunks[i].Options
		if o.Interval.D() < 0 || (o.Interval.D() > 0 && o.Interval.D() < time.Second) {
			return bad(key+".options.interval", "%v: want 0 (off) or at least 1s", o.Interval.D())
		}
		if o.Timeout.D() <= 0 {
			o.Timeout = Duration(2 * time.Second)
		}
		if o.DownAfter <= 0 {
			o.DownAfter = 3
		}
		if o.UpAfter <= 0 {
			o.UpAfter = 2
		}
		for _, codec := range c.Trunks[i].Codecs {
			if codec != "PCMU" && codec != "PCMA" {
				return bad(key+".codecs", "%q is not one of PCMU, PCMA", codec)
			}
		}
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		for _, d := range r.Prefix {
			if d < '0' || d > '9' {
				return bad(key+".prefix", "%q must be digits only (E.164 without '+')", r.Prefix)
			}
		}
		if len(r.Trunks) == 0 {
			return bad(key+".trunks", "needs at least one trunk")
		}
		if len(r.Shares) > 0 {
			if len(r.Shares) != len(r.Trunks) || r.LeastCost {
				return bad(key+".shares", "needs one weight per trunk, and not with least_cost")
			}
			for _, w := range r.Shares {
				if w < 0 {
					return bad(key+".shares", "weights must not be negative")
				}
			}
		}
		for _, name := range r.Trunks {
			if !names[name] {
				return bad(key+".trunks", "trunk %q is not defined under trunks", name)
			}
		}
		for _, typ := range r.Types {
			switch typ {
			case "mobile", "fixed", "toll_free", "premium", "other":
			default:
				return bad(key+".types", "%q is not one of mobile, fixed, toll_free, premium, other", typ)
			}
		}
	}
	return nil
}
