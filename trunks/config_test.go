package trunks

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{Trunks: []TrunkConfig{{Name: "a", Address: "h:1", Register: RegisterConfig{Enabled: true}}}}
	c.Defaults()
	got := c.Trunks[0]
	if got.Transport != "udp" || strings.Join(got.Codecs, ",") != "PCMU,PCMA" ||
		got.Register.Expires.D() != 10*time.Minute || got.Register.Retry.D() != 30*time.Second ||
		got.Options.Timeout.D() != 2*time.Second || got.Options.DownAfter != 3 || got.Options.UpAfter != 2 {
		t.Errorf("Defaults() = %+v, want the documented defaults", got)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() after Defaults() = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := TrunkConfig{Name: "a", Address: "h:1"}
	trunk := func(f func(*TrunkConfig)) []TrunkConfig {
		t := ok
		f(&t)
		return []TrunkConfig{ok, t}
	}
	route := func(r RouteConfig) Config { return Config{Trunks: []TrunkConfig{ok}, Routes: []RouteConfig{r}} }
	tests := []struct {
		name string
		cfg  Config
		want string // the error starts with it
	}{
		{"no name", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name = "" })}, "trunks[1].name: must not be empty"},
		{"twice", Config{Trunks: trunk(func(*TrunkConfig) {})}, `trunks[1].name: "a" is defined twice`},
		{"no address", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Address = "b", "" })}, "trunks[1].address: give one of"},
		{"two kinds of address", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.SRV = "b", "carrier.test" })}, "trunks[1].address: give one of"},
		{"not host:port", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Address = "b", "carrier.test" })}, "trunks[1].address:"},
		{"port out of range", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Addresses, t.Address = "b", []string{"h:1", "h:70000"}, "" })}, "trunks[1].addresses[1]:"},
		{"host with spaces", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Address = "b", "not a host:5070" })}, `trunks[1].address: "not a host:5070": "not a host" is not a host name or IP address`},
		{"port not a number", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Address = "b", "carrier.example:abc" })}, `trunks[1].address: "carrier.example:abc": port "abc" is not 1-65535`},
		{"mistyped IP", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Address = "b", "10.0.0.300:5060" })}, `trunks[1].address: "10.0.0.300:5060": "10.0.0.300" is not a host name or IP address`},
		{"srv with spaces", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Address, t.SRV = "b", "", "carrier example.com" })}, `trunks[1].srv: "carrier example.com" is not a domain name`},
		{"srv not a domain", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Address, t.SRV = "b", "", "carrier:5060" })}, "trunks[1].srv:"},
		{"transport", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Transport = "b", "sctp" })}, "trunks[1].transport:"},
		{"tls_ca without tls", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.TLSCA = "b", "ca.pem" })}, "trunks[1].tls_ca: is for transport tls only"},
		{"tls_ca missing", Config{Trunks: trunk(func(t *TrunkConfig) {
			t.Name, t.Transport, t.TLSCA = "b", "tls", filepath.Join("testdata", "no-such.pem")
		})}, "trunks[1].tls_ca:"},
		{"codec", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Codecs = "b", []string{"G729"} })}, "trunks[1].codecs:"},
		{"channels", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.MaxChannels = "b", -1 })}, "trunks[1].max_channels:"},
		{"password alone", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Password = "b", "x" })}, "trunks[1].password:"},
		{"strip", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Rewrite.Strip = "b", 7 })}, "trunks[1].rewrite.strip:"},
		{"prefix", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Rewrite.Prefix = "b", "+1" })}, "trunks[1].rewrite.prefix:"},
		{"caller id", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.CallerID.From = "b", "a@b" })}, "trunks[1].rewrite:"},
		{"header", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Headers = "b", map[string]string{"X-A": "1\r\n2"} })}, "trunks[1].headers:"},
		{"register expires", Config{Trunks: trunk(func(t *TrunkConfig) {
			t.Name, t.Register = "b", RegisterConfig{Enabled: true, Expires: Duration(time.Second), Retry: Duration(time.Second)}
		})}, "trunks[1].register:"},
		{"options interval", Config{Trunks: trunk(func(t *TrunkConfig) { t.Name, t.Options.Interval = "b", Duration(time.Millisecond) })}, "trunks[1].options.interval:"},
		{"route prefix", route(RouteConfig{Prefix: "+44", Trunks: []string{"a"}}), "routes[0].prefix:"},
		{"route without trunks", route(RouteConfig{Prefix: "44"}), "routes[0].trunks: needs at least one trunk"},
		{"route to no trunk", route(RouteConfig{Prefix: "44", Trunks: []string{"b"}}), `routes[0].trunks: trunk "b" is not defined`},
		{"route type", route(RouteConfig{Prefix: "44", Types: []string{"cell"}, Trunks: []string{"a"}}), "routes[0].types:"},
		{"shares and least cost", route(RouteConfig{Trunks: []string{"a"}, Shares: []int{1}, LeastCost: true}), "routes[0].shares:"},
		{"routes overlap", Config{Trunks: []TrunkConfig{ok}, Routes: []RouteConfig{{Prefix: "44", Trunks: []string{"a"}}, {Prefix: "44", Trunks: []string{"a"}}}}, "routes: route 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Defaults()
			err := tt.cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Validate(%+v) = %v, want an error starting %q", tt.cfg, err, tt.want)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d.D() != 90*time.Second {
		t.Errorf("UnmarshalText(1m30s) = %v, %v, want 1m30s", d.D(), err)
	}
	if err := d.UnmarshalText([]byte("0")); err != nil || d != 0 {
		t.Errorf("UnmarshalText(0) = %v, %v, want 0", d.D(), err)
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("UnmarshalText(soon) = %v, want an error saying it is not a duration", err)
	}
}
