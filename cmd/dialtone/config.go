package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/switch/guard"
)

// Config is the whole configuration file. Every key is documented in README.md.
type Config struct {
	Log      LogConfig      `yaml:"log"`
	Store    StoreConfig    `yaml:"store"`
	SIP      SIPConfig      `yaml:"sip"`
	Media    MediaConfig    `yaml:"media"`
	Trunks   []TrunkConfig  `yaml:"trunks"`
	Routes   []RouteConfig  `yaml:"routes"`
	HTTP     HTTPConfig     `yaml:"http"`
	Shutdown ShutdownConfig `yaml:"shutdown"`
	Billing  BillingConfig  `yaml:"billing"`
	Bundles  []BundleConfig `yaml:"bundles"`
	API      APIConfig      `yaml:"api"`
	Web      WebConfig      `yaml:"web"`
	Guard    guard.Config   `yaml:"guard"` // defaults and checks in package guard
}

// WebConfig is the browser dialer served at / (package web).
type WebConfig struct {
	Enabled bool   `yaml:"enabled"`
	SIPURL  string `yaml:"sip_url"` // ws:// or wss:// URL the page uses; empty: the page's host and the first ws/wss listener's port
}

type BillingConfig struct {
	Node            string         `yaml:"node"`              // names this switch's open calls; default: the host name
	Interval        Duration       `yaml:"interval"`          // credit reserved at a time while a call runs
	CreditLead      Duration       `yaml:"credit_lead"`       // more credit is asked for this long before it runs out
	Rounding        RoundingConfig `yaml:"rounding"`          // of call prices
	DefaultPlan     string         `yaml:"default_plan"`      // sell plan of accounts without one; empty: not billed
	RatesCacheTTL   Duration       `yaml:"rates_cache_ttl"`   // an imported deck is used within this
	MaxCallDuration Duration       `yaml:"max_call_duration"` // the longest call authorized
}

type RoundingConfig struct {
	Places int32  `yaml:"places"` // 0-6
	Mode   string `yaml:"mode"`   // up, half_up, half_even, down
}

// BundleConfig is a minute bundle product on sale.
type BundleConfig struct {
	Code        string   `yaml:"code"`
	Name        string   `yaml:"name"`
	Minutes     int64    `yaml:"minutes"`
	Price       string   `yaml:"price"` // decimal, e.g. "0.99"
	Currency    string   `yaml:"currency"`
	Days        int      `yaml:"days"`         // validity
	Countries   []string `yaml:"countries"`    // ISO 3166 regions; empty: any
	NumberTypes []string `yaml:"number_types"` // empty: any
	Increment   int64    `yaml:"increment"`    // seconds; default 60
}

type APIConfig struct {
	Listen        string        `yaml:"listen"` // IP:port of the API alone; empty: on http.listen
	Tokens        []TokenConfig `yaml:"tokens"`
	Signup        string        `yaml:"signup"`          // open, invite or closed
	InviteCodes   []string      `yaml:"invite_codes"`    // for signup: invite
	TokenTTL      Duration      `yaml:"token_ttl"`       // lifetime of a sign-in token
	WebhookSecret string        `yaml:"webhook_secret"`  // HMAC key of payment webhooks; empty: webhooks off
	EnvelopeTTL   Duration      `yaml:"envelope_ttl"`    // unclaimed red envelope money goes back after this
	Attachments   string        `yaml:"attachments_dir"` // where chat uploads are kept
}

// TokenConfig is a bearer token of the HTTP API.
type TokenConfig struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"` // at least 32 characters; use ${ENV}
	Role  string `yaml:"role"`  // finance
}

type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

type StoreConfig struct {
	// URL is sqlite://PATH (relative to the working directory) or postgres://...
	URL string `yaml:"url"`
}

type ListenConfig struct {
	Transport string `yaml:"transport"` // udp, tcp
	Addr      string `yaml:"addr"`      // host:port
}

type SIPConfig struct {
	Realm       string         `yaml:"realm"`
	Advertise   string         `yaml:"advertise"` // host or IP peers reach us at
	UserAgent   string         `yaml:"user_agent"`
	Listen      []ListenConfig `yaml:"listen"`
	NonceTTL    Duration       `yaml:"nonce_ttl"`
	AuthSecret  string         `yaml:"auth_secret"`        // signs nonces; random per start when empty
	AuthAlgs    []string       `yaml:"auth_algorithms"`    // challenge order
	WSAuthAlgs  []string       `yaml:"ws_auth_algorithms"` // challenge order for WebSocket clients
	MaxExpires  int            `yaml:"register_max_expires"`
	RingTimeout Duration       `yaml:"ring_timeout"` // how long a carrier may ring before we give up
	TLSCert     string         `yaml:"tls_cert"`     // PEM certificate chain of tls listeners
	TLSKey      string         `yaml:"tls_key"`      // its PEM private key
	DNSServer   string         `yaml:"dns_server"`   // IP:port of the DNS server for SRV; default: the system's
	// AccountCacheTTL is how long an account read for authentication is
	// reused; a disabled account or new password takes effect within it.
	AccountCacheTTL Duration `yaml:"account_cache_ttl"`
}

type MediaConfig struct {
	Bind      string       `yaml:"bind"`      // IP the RTP sockets bind to
	Advertise string       `yaml:"advertise"` // IP written into SDP
	PortMin   int          `yaml:"port_min"`
	PortMax   int          `yaml:"port_max"`
	Timeout   Duration     `yaml:"timeout"` // no RTP on either leg for this long ends the call
	WebRTC    WebRTCConfig `yaml:"webrtc"`
	Opus      OpusConfig   `yaml:"opus"`
}

// WebRTCConfig is the browsers' media leg: ICE, DTLS-SRTP, all on one UDP port.
type WebRTCConfig struct {
	Listen           string   `yaml:"listen"`            // IP:port of the one UDP socket all WebRTC media uses; empty: browsers' offers get 488
	Advertise        []string `yaml:"advertise"`         // NAT 1:1: public IPs put in ICE candidates; empty: the interface addresses
	HandshakeTimeout Duration `yaml:"handshake_timeout"` // ICE + DTLS must complete within this after the answer
}

// OpusConfig tunes the Opus encoder of transcoded calls.
type OpusConfig struct {
	Bitrate    int `yaml:"bitrate"`     // bits per second, 6000-510000
	Complexity int `yaml:"complexity"`  // 0 (cheapest) to 10 (best)
	PacketLoss int `yaml:"packet_loss"` // loss in percent the in-band FEC protects against at least, 0-100
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

type HTTPConfig struct {
	Listen string `yaml:"listen"` // /healthz, /readyz, /metrics
}

type ShutdownConfig struct {
	// DrainTimeout bounds how long SIGTERM waits for active calls to end
	// before hanging them up.
	DrainTimeout Duration `yaml:"drain_timeout"`
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

// defaults are applied before the file is read; the file overrides them.
func defaultConfig() Config {
	return Config{
		Log:   LogConfig{Level: "info", Format: "text"},
		Store: StoreConfig{URL: "sqlite://data/dialtone.db"},
		SIP: SIPConfig{
			Realm:           "dialtone",
			Advertise:       "127.0.0.1",
			UserAgent:       "Dialtone",
			Listen:          []ListenConfig{{Transport: "udp", Addr: "0.0.0.0:5060"}, {Transport: "tcp", Addr: "0.0.0.0:5060"}},
			NonceTTL:        Duration(5 * time.Minute),
			AuthAlgs:        []string{"MD5", "SHA-256"},
			WSAuthAlgs:      []string{"MD5"},
			MaxExpires:      3600,
			RingTimeout:     Duration(120 * time.Second),
			AccountCacheTTL: Duration(2 * time.Second),
		},
		Media: MediaConfig{
			Bind: "0.0.0.0", Advertise: "127.0.0.1",
			PortMin: 20000, PortMax: 29999,
			Timeout: Duration(30 * time.Second),
			WebRTC:  WebRTCConfig{HandshakeTimeout: Duration(10 * time.Second)},
			Opus:    OpusConfig{Bitrate: 24000, Complexity: 0, PacketLoss: 10},
		},
		HTTP:     HTTPConfig{Listen: "127.0.0.1:8080"},
		Guard:    guard.Defaults(),
		Web:      WebConfig{Enabled: true},
		Shutdown: ShutdownConfig{DrainTimeout: Duration(30 * time.Second)},
		Billing: BillingConfig{
			Interval: Duration(60 * time.Second), CreditLead: Duration(5 * time.Second),
			Rounding:      RoundingConfig{Places: 4, Mode: "up"},
			RatesCacheTTL: Duration(10 * time.Second), MaxCallDuration: Duration(4 * time.Hour),
		},
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

// ParseConfig parses YAML text. In every value, ${NAME} is replaced by what
// lookup gives for NAME (comments are left alone).
func ParseConfig(raw []byte, lookup func(string) (string, bool)) (*Config, error) {
	cfg := defaultConfig()
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 { // an empty file means all defaults
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		return &cfg, nil
	}
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
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

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

// Validate reports the first problem, naming its key.
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if _, _, err := c.Store.Parse(); err != nil {
		return bad("store.url", "%v", err)
	}
	if c.SIP.Realm == "" {
		return bad("sip.realm", "must not be empty")
	}
	if c.SIP.Advertise == "" || strings.ContainsAny(c.SIP.Advertise, " :/") {
		return bad("sip.advertise", "%q is not a host name or IPv4 address", c.SIP.Advertise)
	}
	if len(c.SIP.Listen) == 0 {
		return bad("sip.listen", "needs at least one listener")
	}
	for i, l := range c.SIP.Listen {
		key := fmt.Sprintf("sip.listen[%d]", i)
		if !slices.Contains([]string{"udp", "tcp", "tls", "ws", "wss"}, l.Transport) {
			return bad(key+".transport", "%q is not one of udp, tcp, tls, ws, wss", l.Transport)
		}
		if (l.Transport == "tls" || l.Transport == "wss") && (c.SIP.TLSCert == "" || c.SIP.TLSKey == "") {
			return bad(key+".transport", "%s needs sip.tls_cert and sip.tls_key", l.Transport)
		}
		if _, err := netip.ParseAddrPort(l.Addr); err != nil {
			return bad(key+".addr", "%q is not IP:port", l.Addr)
		}
	}
	if c.SIP.DNSServer != "" {
		if _, err := netip.ParseAddrPort(c.SIP.DNSServer); err != nil {
			return bad("sip.dns_server", "%q is not IP:port", c.SIP.DNSServer)
		}
	}
	if c.SIP.NonceTTL.D() < 10*time.Second {
		return bad("sip.nonce_ttl", "%v is shorter than 10s", c.SIP.NonceTTL.D())
	}
	for _, k := range []struct {
		key  string
		algs []string
	}{{"sip.auth_algorithms", c.SIP.AuthAlgs}, {"sip.ws_auth_algorithms", c.SIP.WSAuthAlgs}} {
		key, algs := k.key, k.algs
		if len(algs) == 0 {
			return bad(key, "needs at least one of MD5, SHA-256")
		}
		for _, a := range algs {
			if a != "MD5" && a != "SHA-256" {
				return bad(key, "%q is not MD5 or SHA-256", a)
			}
		}
	}
	if c.SIP.MaxExpires < 60 {
		return bad("sip.register_max_expires", "%d is below 60 seconds", c.SIP.MaxExpires)
	}
	if c.SIP.AccountCacheTTL.D() < 0 || c.SIP.AccountCacheTTL.D() > time.Minute {
		return bad("sip.account_cache_ttl", "%v is outside 0-1m", c.SIP.AccountCacheTTL.D())
	}
	if c.SIP.RingTimeout.D() < time.Second {
		return bad("sip.ring_timeout", "%v is shorter than 1s", c.SIP.RingTimeout.D())
	}
	if ip := net.ParseIP(c.Media.Bind); ip == nil || ip.To4() == nil {
		return bad("media.bind", "%q is not an IPv4 address", c.Media.Bind)
	}
	if ip := net.ParseIP(c.Media.Advertise); ip == nil || ip.To4() == nil || ip.IsUnspecified() {
		return bad("media.advertise", "%q is not a usable IPv4 address", c.Media.Advertise)
	}
	if c.Media.PortMin < 1024 || c.Media.PortMin > 65534 {
		return bad("media.port_min", "%d is outside 1024-65534", c.Media.PortMin)
	}
	if c.Media.PortMax <= c.Media.PortMin+2 || c.Media.PortMax > 65535 {
		return bad("media.port_max", "%d must be above media.port_min+2 and at most 65535", c.Media.PortMax)
	}
	if c.Media.Timeout.D() < time.Second {
		return bad("media.timeout", "%v is shorter than 1s", c.Media.Timeout.D())
	}
	if w := c.Media.WebRTC; w.Listen != "" {
		ap, err := netip.ParseAddrPort(w.Listen)
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			return bad("media.webrtc.listen", "%q is not IPv4:port with a port", w.Listen)
		}
		if int(ap.Port()) >= c.Media.PortMin && int(ap.Port()) <= c.Media.PortMax {
			return bad("media.webrtc.listen", "port %d is inside media.port_min-port_max, which the RTP legs use", ap.Port())
		}
		for i, a := range w.Advertise {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() || ip.IsUnspecified() {
				return bad(fmt.Sprintf("media.webrtc.advertise[%d]", i), "%q is not a usable IPv4 address", a)
			}
		}
		if w.HandshakeTimeout.D() < time.Second {
			return bad("media.webrtc.handshake_timeout", "%v is shorter than 1s", w.HandshakeTimeout.D())
		}
	}
	if o := c.Media.Opus; o.Bitrate < 6000 || o.Bitrate > 510000 {
		return bad("media.opus.bitrate", "%d is outside 6000-510000", o.Bitrate)
	}
	if o := c.Media.Opus; o.Complexity < 0 || o.Complexity > 10 {
		return bad("media.opus.complexity", "%d is outside 0-10", o.Complexity)
	}
	if o := c.Media.Opus; o.PacketLoss < 0 || o.PacketLoss > 100 {
		return bad("media.opus.packet_loss", "%d is outside 0-100", o.PacketLoss)
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
	if _, err := netip.ParseAddrPort(c.HTTP.Listen); err != nil {
		return bad("http.listen", "%q is not IP:port", c.HTTP.Listen)
	}
	if c.Shutdown.DrainTimeout.D() < 0 {
		return bad("shutdown.drain_timeout", "must not be negative")
	}
	if u := c.Web.SIPURL; u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "ws" && p.Scheme != "wss") || p.Host == "" {
			return bad("web.sip_url", "%q is not a ws:// or wss:// URL", u)
		}
	}
	if err := c.Guard.Validate(); err != nil {
		return err
	}
	return c.validateBilling(bad)
}

func (c *Config) validateBilling(bad func(key, format string, a ...any) error) error {
	b := c.Billing
	if b.Interval.D() < time.Second || b.Interval.D() > time.Hour {
		return bad("billing.interval", "%v is outside 1s-1h", b.Interval.D())
	}
	if b.CreditLead.D() < 0 || b.CreditLead.D() >= b.Interval.D() {
		return bad("billing.credit_lead", "%v must be at least 0 and below billing.interval", b.CreditLead.D())
	}
	if err := (billing.Rounding{Places: b.Rounding.Places, Mode: billing.RoundingMode(b.Rounding.Mode)}).Validate(); err != nil {
		return bad("billing.rounding", "%v", err)
	}
	if b.RatesCacheTTL.D() < 0 {
		return bad("billing.rates_cache_ttl", "must not be negative")
	}
	if b.MaxCallDuration.D() < time.Minute {
		return bad("billing.max_call_duration", "%v is shorter than 1m", b.MaxCallDuration.D())
	}
	codes := map[string]bool{}
	for i, bc := range c.Bundles {
		key := fmt.Sprintf("bundles[%d]", i)
		if _, err := bc.Bundle(); err != nil {
			return bad(key, "%v", err)
		}
		if codes[bc.Code] {
			return bad(key+".code", "%q is defined twice", bc.Code)
		}
		codes[bc.Code] = true
	}
	if c.API.Listen != "" {
		if _, err := netip.ParseAddrPort(c.API.Listen); err != nil {
			return bad("api.listen", "%q is not IP:port", c.API.Listen)
		}
	}
	switch c.API.Signup {
	case "":
		c.API.Signup = "closed"
	case "open", "closed":
	case "invite":
		if len(c.API.InviteCodes) == 0 {
			return bad("api.invite_codes", "signup: invite needs at least one code")
		}
	default:
		return bad("api.signup", "%q is not one of open, invite, closed", c.API.Signup)
	}
	if c.API.TokenTTL.D() == 0 {
		c.API.TokenTTL = Duration(30 * 24 * time.Hour)
	} else if c.API.TokenTTL.D() < time.Minute {
		return bad("api.token_ttl", "%v is shorter than 1m", c.API.TokenTTL.D())
	}
	if c.API.Attachments == "" {
		c.API.Attachments = "data/attachments"
	}
	if c.API.EnvelopeTTL.D() == 0 {
		c.API.EnvelopeTTL = Duration(24 * time.Hour)
	} else if c.API.EnvelopeTTL.D() < time.Minute {
		return bad("api.envelope_ttl", "%v is shorter than 1m", c.API.EnvelopeTTL.D())
	}
	if s := c.API.WebhookSecret; s != "" && len(s) < 32 {
		return bad("api.webhook_secret", "is shorter than 32 characters")
	}
	for i, t := range c.API.Tokens {
		key := fmt.Sprintf("api.tokens[%d]", i)
		if t.Name == "" {
			return bad(key+".name", "must not be empty")
		}
		if len(t.Token) < 32 {
			return bad(key+".token", "is shorter than 32 characters")
		}
		if t.Role != "finance" {
			return bad(key+".role", "%q is not finance", t.Role)
		}
	}
	return nil
}

// Bundle is the product bc describes.
func (bc BundleConfig) Bundle() (dialtone.Bundle, error) {
	b := dialtone.Bundle{Code: bc.Code, Name: bc.Name, Seconds: bc.Minutes * 60, Currency: bc.Currency,
		Validity: time.Duration(bc.Days) * 24 * time.Hour, Countries: bc.Countries, NumberTypes: bc.NumberTypes, Increment: bc.Increment}
	if b.Increment == 0 {
		b.Increment = 60
	}
	price, err := dialtone.ParseAmount(bc.Price)
	switch {
	case bc.Code == "" || strings.ContainsAny(bc.Code, " ,"):
		return b, fmt.Errorf("code %q must be a word", bc.Code)
	case bc.Minutes <= 0:
		return b, fmt.Errorf("minutes must be positive")
	case err != nil || !price.IsPositive():
		return b, fmt.Errorf("price %q is not a positive amount", bc.Price)
	case len(bc.Currency) != 3:
		return b, fmt.Errorf("currency %q is not an ISO 4217 code", bc.Currency)
	case bc.Days <= 0:
		return b, fmt.Errorf("days must be positive")
	case b.Increment < 1 || b.Increment > 3600:
		return b, fmt.Errorf("increment %d is outside 1-3600 seconds", b.Increment)
	}
	for _, cc := range bc.Countries {
		if len(cc) != 2 || strings.ToUpper(cc) != cc {
			return b, fmt.Errorf("country %q is not an ISO 3166 alpha-2 code", cc)
		}
	}
	for _, t := range bc.NumberTypes {
		if !slices.Contains(billing.NumberTypes, t) {
			return b, fmt.Errorf("number type %q is not one of %s", t, strings.Join(billing.NumberTypes, ", "))
		}
	}
	b.Price = price
	return b, nil
}

// Parse splits the store URL into a driver and its data source.
func (s StoreConfig) Parse() (driver, dsn string, err error) {
	switch {
	case strings.HasPrefix(s.URL, "sqlite://"):
		path := strings.TrimPrefix(s.URL, "sqlite://")
		if path == "" {
			return "", "", errors.New("sqlite:// needs a file path, e.g. sqlite://data/dialtone.db")
		}
		return "sqlite", path, nil
	case strings.HasPrefix(s.URL, "postgres://"), strings.HasPrefix(s.URL, "postgresql://"):
		return "postgres", s.URL, nil
	default:
		return "", "", fmt.Errorf("%q must start with sqlite:// or postgres://", redact(s.URL))
	}
}

// redact hides a password in a URL before it reaches a log or error.
func redact(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	cred := u[scheme+3 : at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return u[:scheme+3] + cred[:i] + ":xxxxx" + u[at:]
	}
	return u
}
