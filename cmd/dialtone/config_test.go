package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil, noEnv)
	if err != nil {
		t.Fatalf("ParseConfig(empty) = %v, want defaults", err)
	}
	if cfg.Store.URL != "sqlite://data/dialtone.db" || cfg.Media.Timeout.D() != 30*time.Second || len(cfg.SIP.Listen) != 2 || !cfg.Web.Enabled {
		t.Errorf("ParseConfig(empty) = %+v, want the documented defaults", cfg)
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
		{"unknown key", "sip:\n  realmm: x\n", "field realmm not found"},
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
		{"trunk without address", "trunks: [{name: a}]\n", "trunks[0].address"},
		{"duplicate trunk", "trunks: [{name: a, address: 'h:1'}, {name: a, address: 'h:2'}]\n", "trunks[1].name"},
		{"bad codec", "trunks: [{name: a, address: 'h:1', codecs: [G729]}]\n", "trunks[0].codecs"},
		{"route to unknown trunk", "trunks: [{name: a, address: 'h:1'}]\nroutes: [{prefix: '44', trunks: [b]}]\n", "routes[0].trunks"},
		{"route prefix with plus", "trunks: [{name: a, address: 'h:1'}]\nroutes: [{prefix: '+44', trunks: [a]}]\n", "routes[0].prefix"},
		{"route bad type", "trunks: [{name: a, address: 'h:1'}]\nroutes: [{prefix: '44', types: [cell], trunks: [a]}]\n", "routes[0].types"},
		{"trunk duration", "trunks: [{name: a, address: 'h:1', invite_timeout: soon}]\n", "not a duration"},
		{"trunk unknown key", "trunks: [{name: a, address: 'h:1', adress: 'h:2'}]\n", "field adress not found"},
		{"routes overlap", "trunks: [{name: a, address: 'h:1'}]\nroutes: [{prefix: '44', trunks: [a]}, {prefix: '44', trunks: [a]}]\n", "routes: route 1"},
		{"missing env", "sip:\n  auth_secret: ${DIALTONE_TEST_UNSET_SECRET}\n", "DIALTONE_TEST_UNSET_SECRET is not set"},
		{"not yaml", "sip: [\n", "line"},
		{"web sip_url not a websocket", "web:\n  sip_url: http://example.com/\n", "web.sip_url"},
		{"web sip_url without host", "web:\n  sip_url: 'wss://'\n", "web.sip_url"},
		{"web unknown key", "web:\n  enable: true\n", "field enable not found"},
		{"auth algorithm", "sip:\n  auth_algorithms: [SHA-512]\n", "sip.auth_algorithms"},
		{"no websocket auth algorithm", "sip:\n  ws_auth_algorithms: []\n", "sip.ws_auth_algorithms"},
		{"websocket auth algorithm", "sip:\n  ws_auth_algorithms: [md5]\n", "sip.ws_auth_algorithms"},
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

func noEnv(string) (string, bool) { return "", false }
