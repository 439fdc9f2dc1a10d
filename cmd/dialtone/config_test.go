package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil, noEnv)
	if err != nil {
		t.Fatalf("ParseConfig(empty) = %v, want defaults", err)
	}
	if cfg.Store.URL != "sqlite://data/dialtone.db" || cfg.Media.Timeout != 30*time.Second || len(cfg.SIP.Listen) != 2 || !cfg.Web.Enabled {
		t.Errorf("ParseConfig(empty) = %+v, want the documented defaults", cfg)
	}
}

// TestParseLimits: the limits section overrides the defaults key by key;
// numbers, amounts and "unlimited" are read as YAML writes them.
func TestParseLimits(t *testing.T) {
	cfg, err := ParseConfig([]byte("limits:\n  concurrent_calls: 5\n  spend_hour: 2.50\n  spend_day: unlimited\n  countries: [us, GB]\n"), noEnv)
	if err != nil {
		t.Fatalf("ParseConfig = %v", err)
	}
	l, d := cfg.Limits.Defaults(), dialtone.DefaultLimits()
	if l.Concurrent != 5 || l.PerMinute != d.PerMinute || l.SpendHour.String() != "2.5" || !l.SpendDay.Equal(dialtone.UnlimitedMoney) ||
		!l.MaxRate.Equal(d.MaxRate) || !reflect.DeepEqual(l.Countries, []string{"US", "GB"}) || !reflect.DeepEqual(l.NumberTypes, d.NumberTypes) {
		t.Errorf("limits = %+v", l)
	}
	if cfg, _ := ParseConfig(nil, noEnv); !reflect.DeepEqual(cfg.Limits.Defaults(), dialtone.DefaultLimits()) {
		t.Errorf("limits of an empty file = %+v, want dialtone.DefaultLimits", cfg.Limits.Defaults())
	}
}

func TestShippedConfigIsValid(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "..", "configs", "dialtone.yaml"))
	if err != nil {
		t.Fatalf("LoadConfig(configs/dialtone.yaml) = %v", err)
	}
	if len(cfg.Trunks) == 0 || len(cfg.Routes) == 0 {
		t.Errorf("configs/dialtone.yaml has no trunks or routes")
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "sip:\n  realmm: x\n", "sip.realmm: unknown key"},
		{"bad level", "log:\n  level: loud\n", "log.level"},
		{"bad format", "log:\n  format: xml\n", "log.format"},
		{"bad store", "store:\n  url: mysql://x\n", "store.url"},
		{"empty sqlite path", "store:\n  url: sqlite://\n", "store.url"},
		{"bad transport", "sip:\n  listen: [{transport: sctp, addr: '127.0.0.1:5060'}]\n", "sip.listen[0].transport"},
		{"bad addr", "sip:\n  listen: [{transport: udp, addr: 'localhost'}]\n", "sip.listen[0].addr"},
		{"bad duration", "media:\n  timeout: soon\n", "not a duration"},
		{"short timeout", "media:\n  timeout: 10ms\n", "media.timeout"},
		{"port order", "media:\n  port_min: 30000\n  port_max: 20000\n", "media.port_max"},
		{"bad advertise", "media:\n  advertise: 0.0.0.0\n", "media.advertise"},
		{"webrtc port in the RTP range", "media:\n  webrtc: {listen: \"0.0.0.0:20002\"}\n", "media.webrtc.listen"},
		{"webrtc without a port", "media:\n  webrtc: {listen: \"0.0.0.0\"}\n", "media.webrtc.listen"},
		{"webrtc advertise", "media:\n  webrtc: {listen: \"0.0.0.0:19302\", advertise: [nat.example]}\n", "media.webrtc.advertise[0]"},
		{"webrtc handshake", "media:\n  webrtc: {listen: \"0.0.0.0:19302\", handshake_timeout: 1ms}\n", "media.webrtc.handshake_timeout"},
		{"opus complexity", "media:\n  opus: {complexity: 11}\n", "media.opus.complexity"},
		{"opus bitrate", "media:\n  opus: {bitrate: 100}\n", "media.opus.bitrate"},
		{"strict rtp probation", "media:\n  strict_rtp: {probation: 1}\n", "media.strict_rtp.probation"},
		{"strict rtp quiet", "media:\n  strict_rtp: {quiet: 10ms}\n", "media.strict_rtp.quiet"},
		{"strict rtp as a word", "media:\n  strict_rtp: yes\n", `media.strict_rtp: "yes" is not a mapping`},
		{"trunk without address", "trunks: [{name: a}]\n", "trunks[0].address"},
		{"duplicate trunk", "trunks: [{name: a, address: 'h:1'}, {name: a, address: 'h:2'}]\n", "trunks[1].name"},
		{"bad codec", "trunks: [{name: a, address: 'h:1', codecs: [G729]}]\n", "trunks[0].codecs"},
		{"route to unknown trunk", "trunks: [{name: a, address: 'h:1'}]\nroutes: [{prefix: '44', trunks: [b]}]\n", "routes[0].trunks"},
		{"route prefix with plus", "trunks: [{name: a, address: 'h:1'}]\nroutes: [{prefix: '+44', trunks: [a]}]\n", "routes[0].prefix"},
		{"route bad type", "trunks: [{name: a, address: 'h:1'}]\nroutes: [{prefix: '44', types: [cell], trunks: [a]}]\n", "routes[0].types"},
		{"blocked prefix without plus", "destinations: {block: {prefixes: ['882']}}\n", "destinations.block.prefixes"},
		{"allowed country unknown", "destinations: {allow: {countries: [XX]}}\n", "destinations.allow.countries"},
		{"destinations unknown key", "destinations: {deny: {prefixes: ['+882']}}\n", "deny"},
		{"trunk duration", "trunks: [{name: a, address: 'h:1', invite_timeout: soon}]\n", "not a duration"},
		{"trunk unknown key", "trunks: [{name: a, address: 'h:1', adress: 'h:2'}]\n", "trunks[0].adress: unknown key"},
		{"routes overlap", "trunks: [{name: a, address: 'h:1'}]\nroutes: [{prefix: '44', trunks: [a]}, {prefix: '44', trunks: [a]}]\n", "routes: route 1"},
		{"missing env", "sip:\n  auth_secret: ${DIALTONE_TEST_UNSET_SECRET}\n", "DIALTONE_TEST_UNSET_SECRET is not set"},
		{"not yaml", "sip: [\n", "line"},
		{"web sip_url not a websocket", "web:\n  sip_url: http://example.com/\n", "web.sip_url"},
		{"web sip_url without host", "web:\n  sip_url: 'wss://'\n", "web.sip_url"},
		{"web unknown key", "web:\n  enable: true\n", "web.enable: unknown key"},
		{"auth algorithm", "sip:\n  auth_algorithms: [SHA-512]\n", "sip.auth_algorithms"},
		{"no websocket auth algorithm", "sip:\n  ws_auth_algorithms: []\n", "sip.ws_auth_algorithms"},
		{"websocket auth algorithm", "sip:\n  ws_auth_algorithms: [md5]\n", "sip.ws_auth_algorithms"},
		// Each section is checked by the package that owns it; the key path names it.
		{"edge: empty realm", "sip:\n  realm: ''\n", "sip.realm: must not be empty"},
		{"edge: tls without a certificate", "sip:\n  listen: [{transport: tls, addr: '127.0.0.1:5061'}]\n", "sip.listen[0].transport: tls needs sip.tls_cert"},
		{"edge: short nonce", "sip:\n  nonce_ttl: 1s\n", "sip.nonce_ttl"},
		{"edge: account cache", "sip:\n  account_cache_ttl: 2m\n", "sip.account_cache_ttl"},
		{"edge: duration", "sip:\n  nonce_ttl: 30\n", `sip.nonce_ttl: "30" is not a duration such as 30s or 5m`},
		{"edge: handshake timeout", "sip:\n  handshake_timeout: 0s\n", "sip.handshake_timeout"},
		{"edge: idle timeout", "sip:\n  tcp_idle_timeout: 500ms\n", "sip.tcp_idle_timeout"},
		{"guard: connections per source", "guard:\n  max_connections_per_source: 0\n", "guard.max_connections_per_source"},
		{"b2bua: advertise with a port", "sip:\n  advertise: '1.2.3.4:5060'\n", "sip.advertise"},
		{"b2bua: ring timeout", "sip:\n  ring_timeout: 10ms\n", "sip.ring_timeout: 10ms is shorter than 1s"},
		{"sip: dns server", "sip:\n  dns_server: dns.example\n", "sip.dns_server"},
		{"media: bind", "media:\n  bind: '::'\n", "media.bind"},
		{"media: port_min", "media:\n  port_min: 80\n", "media.port_min: 80 is outside 1024-65534"},
		{"media: opus packet loss", "media:\n  opus: {packet_loss: 101}\n", "media.opus.packet_loss"},
		{"billing: interval", "billing:\n  interval: 2h\n", "billing.interval"},
		{"billing: credit lead", "billing:\n  credit_lead: 60s\n", "billing.credit_lead"},
		{"billing: rounding", "billing:\n  rounding: {mode: sideways}\n", "billing.rounding"},
		{"billing: node", "billing:\n  node: ''\n", "billing.node"},
		{"billing: max call", "billing:\n  max_call_duration: 30s\n", "billing.max_call_duration"},
		{"billing: unbilled", "billing:\n  unbilled: free\n", "billing.unbilled"},
		{"open sign-up without a plan", "api:\n  signup: open\n", "api.signup: open creates accounts without a rate plan, and billing.default_plan is empty"},
		{"bundles: number type", "bundles: [{code: w, name: W, minutes: 10, price: '1', currency: USD, days: 1, number_types: [cell]}]\n", "bundles[0]: invalid: number type \"cell\" is not one of mobile, fixed, toll_free, premium, other"},
		{"bundles: price", "bundles: [{code: w, name: W, minutes: 10, price: 'free', currency: USD, days: 1}]\n", "bundles[0]"},
		{"bundles: twice", "bundles: [{code: w, name: W, minutes: 10, price: '1', currency: USD, days: 1}, {code: w, name: W, minutes: 10, price: '1', currency: USD, days: 1}]\n", "bundles[1].code"},
		{"companion: signup", "api:\n  signup: maybe\n", "api.signup"},
		{"companion: invite without codes", "api:\n  signup: invite\n", "api.invite_codes"},
		{"companion: token ttl", "api:\n  token_ttl: 10s\n", "api.token_ttl"},
		{"companion: listen", "api:\n  listen: nowhere\n", "api.listen"},
		{"companion: short token", "api:\n  tokens: [{name: f, role: finance, token: short}]\n", "api.tokens[0].token"},
		{"companion: role", "api:\n  tokens: [{name: f, role: admin, token: 0123456789abcdef0123456789abcdef}]\n", "api.tokens[0].role"},
		{"companion: webhook secret", "api:\n  webhook_secret: short\n", "api.webhook_secret"},
		{"store: scheme", "store:\n  url: file://x\n", "store.url"},
		{"log: level", "log:\n  level: trace\n", "log.level"},
		{"http: listen", "http:\n  listen: localhost\n", "http.listen"},
		{"shutdown: negative", "shutdown:\n  drain_timeout: -1s\n", "shutdown.drain_timeout"},
		{"runtime: memory limit too low", "runtime:\n  memory_limit_mb: 16\n", "runtime.memory_limit_mb: 16 is below 64"},
		{"runtime: negative memory limit", "runtime:\n  memory_limit_mb: -1\n", "runtime.memory_limit_mb"},
		{"limits: zero calls", "limits:\n  concurrent_calls: 0\n", "limits: invalid limits: concurrent_calls"},
		{"limits: default in the defaults", "limits:\n  calls_per_minute: default\n", "limits: invalid limits: calls_per_minute"},
		{"limits: negative spend", "limits:\n  spend_hour: -5\n", "limits: invalid limits: spend_hour"},
		{"limits: rate as a word", "limits:\n  max_rate: cheap\n", "limits: invalid limits: max_rate"},
		{"limits: no countries", "limits:\n  countries: []\n", "limits: invalid limits: countries is empty"},
		{"limits: country", "limits:\n  countries: [United Kingdom]\n", "limits: invalid limits: country"},
		{"limits: number type", "limits:\n  number_types: [satellite]\n", "number type \"satellite\""},
		{"limits: unknown key", "limits:\n  concurrent: 5\n", "limits.concurrent: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml), noEnv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseConfig(%q) = %v, want an error naming %q", tt.yaml, err, tt.want)
			}
		})
	}
}

// TestParseConfigMessages: what a person who mistyped the file reads,
// word for word: the key path, or the line that breaks the YAML.
func TestParseConfigMessages(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "log:\n  level: info\n  format: text\n  colour: red\n", "log.colour: unknown key"},
		{"unknown key near a known one", "sip:\n  realmm: x\n", "sip.realmm: unknown key (did you mean realm?)"},
		{"unknown section", "trunk: []\n", "trunk: unknown key (did you mean trunks?)"},
		{"unknown key in a list item", "trunks:\n  - name: a\n    address: h:1\n    adress: h:2\n", "trunks[0].adress: unknown key (did you mean address?)"},
		{"unknown key inline", "sip: {ring_timeout: 30s, ringtimeout: 30s}\n", "sip.ringtimeout: unknown key (did you mean ring_timeout?)"},
		{"unknown key deep", "media:\n  webrtc:\n    listen: 0.0.0.0:19302\n    handshake: 5s\n", "media.webrtc.handshake: unknown key"},
		{"not a number", "trunks:\n  - name: a\n    address: h:1\n    max_channels: two\n", `trunks[0].max_channels: "two" is not a whole number`},
		{"not a duration", "media:\n  timeout: soon\n", `media.timeout: "soon" is not a duration such as 30s or 5m`},
		{"trunk duration", "trunks: [{name: a, address: 'h:1', invite_timeout: soon}]\n", `trunks[0].invite_timeout: "soon" is not a duration such as 30s or 5m`},
		{"not a bool", "web:\n  enabled: maybe\n", `web.enabled: "maybe" is not true or false`},
		{"list for a value", "log:\n  level: [info]\n", "log.level: a list is not a single value"},
		{"value for a list", "sip:\n  listen: udp\n", `sip.listen: "udp" is not a list`},
		{"value for a section", "log: loud\n", `log: "loud" is not a mapping of keys to values`},
		{"list item of the wrong type", "routes: [{prefix: '', trunks: [a], shares: [1, x]}]\n", `routes[0].shares[1]: "x" is not a whole number`},
		{"not a mapping at all", "hello\n", `line 1: "hello" is not a mapping of keys to values`},
		{"mis-indented key", "log:\n  level: info\n format: text\n", `line 3 (" format: text"): did not find expected key`},
		{"over-indented key", "log:\n  level: info\nsip:\n  realm: x\n    advertise: y\n", `line 5 ("    advertise: y"): mapping values are not allowed in this context`},
		{"tab", "log:\n\tlevel: info\n", `line 2 ("\tlevel: info"): found character that cannot start any token`},
		{"mis-indented list item", "sip:\n  listen:\n    - transport: udp\n    addr: '127.0.0.1:5060'\n", `line 4 ("    addr: '127.0.0.1:5060'"): did not find expected '-' indicator`},
		{"trunk host with spaces", "trunks: [{name: a, address: 'not a host:5070'}]\n", `trunks[0].address: "not a host:5070": "not a host" is not a host name or IP address`},
		{"trunk port not a number", "trunks: [{name: a, address: 'carrier.example:abc'}]\n", `trunks[0].address: "carrier.example:abc": port "abc" is not 1-65535`},
		{"second trunk address", "trunks: [{name: a, addresses: ['h:1', 'h:0']}]\n", `trunks[0].addresses[1]: "h:0": port "0" is not 1-65535`},
		{"listener not IP:port", "sip:\n  listen: [{transport: udp, addr: 'localhost:5060'}]\n", `sip.listen[0].addr: "localhost:5060" is not IP:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml), noEnv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParseConfig(%q) = %v, want %s", tt.yaml, err, tt.want)
			}
		})
	}
}

// TestCheckListen: serve refuses an address this machine does not have,
// and a port two keys (or another process) want, naming file and key.
func TestCheckListen(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	free := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	p1, p2 := free(), free()
	tests := []struct {
		name, yaml, want string
	}{
		{"not this machine's", fmt.Sprintf("sip:\n  listen: [{transport: udp, addr: '192.0.2.1:%d'}]\nhttp: {listen: '127.0.0.1:%d'}\n", p1, p2),
			"config c.yaml: sip.listen[0].addr: 192.0.2.1 is not an address of this machine"},
		{"in use", fmt.Sprintf("sip:\n  listen: [{transport: udp, addr: '127.0.0.1:%d'}]\nhttp: {listen: '127.0.0.1:%d'}\n", p1, port),
			fmt.Sprintf("config c.yaml: http.listen: tcp 127.0.0.1:%d is in use, by another process or another key of this file", port)},
		{"twice in the file", fmt.Sprintf("sip:\n  listen: [{transport: tcp, addr: '127.0.0.1:%d'}, {transport: ws, addr: '127.0.0.1:%d'}]\nhttp: {listen: '127.0.0.1:%d'}\n", p1, p1, p2),
			fmt.Sprintf("config c.yaml: sip.listen[1].addr: tcp 127.0.0.1:%d is in use", p1)},
		{"certificate missing", fmt.Sprintf("sip:\n  tls_cert: /nonexistent/cert.pem\n  tls_key: /nonexistent/key.pem\n  listen: [{transport: tls, addr: '127.0.0.1:%d'}]\nhttp: {listen: '127.0.0.1:%d'}\n", p1, p2),
			"config c.yaml: sip.tls_cert, sip.tls_key: open /nonexistent/cert.pem: no such file or directory"},
		{"fine", fmt.Sprintf("sip:\n  listen: [{transport: udp, addr: '127.0.0.1:%d'}, {transport: tcp, addr: '127.0.0.1:%d'}]\nhttp: {listen: '127.0.0.1:%d'}\n", p1, p1, p2), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			cfg.path = "c.yaml"
			err = cfg.checkListen()
			if tt.want == "" {
				if err != nil {
					t.Errorf("checkListen() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("checkListen() = %v, want %s...", err, tt.want)
			}
		})
	}
}

// TestOpenSignupNeedsAPlan: open sign-up starts with a default plan for the
// new accounts, or with free calls said on purpose.
func TestOpenSignupNeedsAPlan(t *testing.T) {
	for _, yaml := range []string{
		"api: {signup: open}\nbilling: {default_plan: retail}\n",
		"api: {signup: open}\nbilling: {unbilled: allow}\n",
		"api: {signup: closed}\n",
	} {
		cfg, err := ParseConfig([]byte(yaml), noEnv)
		if err != nil {
			t.Errorf("ParseConfig(%q) = %v, want it valid", yaml, err)
			continue
		}
		if free, want := cfg.Billing.FreeCalls(), strings.Contains(yaml, "allow"); free != want {
			t.Errorf("ParseConfig(%q).Billing.FreeCalls() = %v, want %v", yaml, free, want)
		}
	}
	if cfg, _ := ParseConfig(nil, noEnv); cfg.Billing.Unbilled != "refuse" || cfg.Billing.FreeCalls() {
		t.Errorf("default billing.unbilled = %q (free calls %v), want refuse", cfg.Billing.Unbilled, cfg.Billing.FreeCalls())
	}
}

func TestParseConfigEnv(t *testing.T) {
	env := func(name string) (string, bool) {
		if name == "DB_PASS" {
			return "s3cr$t", true
		}
		return "", false
	}
	cfg, err := ParseConfig([]byte("store:\n  url: postgres://u:${DB_PASS}@db/dialtone\n"), env)
	if err != nil {
		t.Fatalf("ParseConfig = %v", err)
	}
	if want := "postgres://u:s3cr$t@db/dialtone"; cfg.Store.URL != want {
		t.Errorf("store.url = %q, want %q", cfg.Store.URL, want)
	}
	if got := redact(cfg.Store.URL); strings.Contains(got, "s3cr") {
		t.Errorf("redact(%q) = %q, want the password hidden", cfg.Store.URL, got)
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("log:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "log.level") {
		t.Errorf("LoadConfig(%q) = %v, want an error naming the file and log.level", path, err)
	}
}

// TestValidateChangesNothing: defaults are applied before the file is read,
// so Validate only checks. Two configurations parsed from the same text are
// equal; validating one of them (valid or not) leaves them equal.
func TestValidateChangesNothing(t *testing.T) {
	full := `
log: {level: debug, format: json}
store: {url: "sqlite://x.db"}
sip:
  realm: example
  advertise: sip.example.com
  listen: [{transport: udp, addr: "0.0.0.0:5070"}]
  ws_auth_algorithms: [MD5, SHA-256]
  dns_server: "127.0.0.1:53"
media: {port_min: 30000, port_max: 30100, webrtc: {listen: "0.0.0.0:19302"}, opus: {bitrate: 32000}}
http: {listen: "127.0.0.1:9090"}
billing: {interval: 30s, default_plan: retail}
bundles: [{code: w, name: W, minutes: 10, price: "1", currency: USD, days: 1}]
api: {signup: "", tokens: [{name: f, role: finance, token: 0123456789abcdef0123456789abcdef}]}
web: {enabled: false}
limits: {concurrent_calls: 4, spend_day: unlimited, countries: [US], number_types: [mobile]}
trunks: [{name: a, address: "h:1", transport: udp, codecs: [PCMU], options: {timeout: 2s, down_after: 3, up_after: 2}}]
routes: [{prefix: "44", trunks: [a]}]
`
	for name, text := range map[string]string{"empty": "", "full": full} {
		t.Run(name, func(t *testing.T) {
			want, err := ParseConfig([]byte(text), noEnv)
			if err != nil {
				t.Fatalf("ParseConfig = %v", err)
			}
			got, _ := ParseConfig([]byte(text), noEnv)
			if err := got.Validate(); err != nil {
				t.Fatalf("Validate = %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Validate changed the configuration:\n got %+v\nwant %+v", got, want)
			}
		})
	}
	// An invalid section is refused and left as it was.
	cfg := defaultConfig()
	cfg.API.Signup, cfg.Media.PortMax = "maybe", 1
	before := defaultConfig()
	before.API.Signup, before.Media.PortMax = "maybe", 1
	if err := cfg.Validate(); err == nil {
		t.Fatal("Validate(invalid) = nil")
	}
	if !reflect.DeepEqual(cfg, before) {
		t.Errorf("Validate(invalid) changed the configuration")
	}
}

// TestDefaultsAreValid: every section's defaults pass its own Validate.
func TestDefaultsAreValid(t *testing.T) {
	d := defaultConfig()
	for name, v := range map[string]interface{ Validate() error }{
		"log": d.Log, "store": d.Store, "sip": d.SIP, "media": d.Media, "http": d.HTTP,
		"shutdown": d.Shutdown, "billing": d.Billing, "api": d.API, "web": d.Web, "limits": d.Limits,
	} {
		if err := v.Validate(); err != nil {
			t.Errorf("%s defaults: %v", name, err)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }
