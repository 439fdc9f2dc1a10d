package main

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dialtone/dialtone/switch/b2bua"
	"github.com/dialtone/dialtone/switch/edge"
)

// The sections of the configuration file that belong to the binary itself
// rather than to a package: its log, its store, its admin HTTP listener,
// its shutdown, and the sip section, which the edge and the call
// controller share. Each has its defaults and a Validate that changes
// nothing.

// LogConfig is the log section.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

func defaultLogConfig() LogConfig { return LogConfig{Level: "info", Format: "text"} }

func (c LogConfig) Validate() error {
	switch c.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Level)
	}
	switch c.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: %q is not one of text, json", c.Format)
	}
	return nil
}

// StoreConfig is the store section.
type StoreConfig struct {
	// URL is sqlite://PATH (relative to the working directory) or postgres://...
	URL string `yaml:"url"`
}

func defaultStoreConfig() StoreConfig { return StoreConfig{URL: "sqlite://data/dialtone.db"} }

func (c StoreConfig) Validate() error {
	if _, _, err := c.Parse(); err != nil {
		return fmt.Errorf("store.url: %v", err)
	}
	return nil
}

// Parse splits the store URL into a driver and its data source.
func (c StoreConfig) Parse() (driver, dsn string, err error) {
	switch {
	case strings.HasPrefix(c.URL, "sqlite://"):
		path := strings.TrimPrefix(c.URL, "sqlite://")
		if path == "" {
			return "", "", errors.New("sqlite:// needs a file path, e.g. sqlite://data/dialtone.db")
		}
		return "sqlite", path, nil
	case strings.HasPrefix(c.URL, "postgres://"), strings.HasPrefix(c.URL, "postgresql://"):
		return "postgres", c.URL, nil
	default:
		return "", "", fmt.Errorf("%q must start with sqlite:// or postgres://", redact(c.URL))
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

// HTTPConfig is the http section: the admin listener.
type HTTPConfig struct {
	Listen string `yaml:"listen"` // /healthz, /readyz, /metrics
}

func defaultHTTPConfig() HTTPConfig { return HTTPConfig{Listen: "127.0.0.1:8080"} }

func (c HTTPConfig) Validate() error {
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		return fmt.Errorf("http.listen: %q is not IP:port", c.Listen)
	}
	return nil
}

// RuntimeConfig is the runtime section: the Go runtime's settings.
type RuntimeConfig struct {
	// MemoryLimitMB is a soft limit on the memory the process uses, in MiB
	// (runtime/debug.SetMemoryLimit): as the heap nears it the garbage
	// collector runs more often, so the RSS stays near the limit instead
	// of twice the live heap. 0: no limit. The GOMEMLIMIT environment
	// variable, when set, wins.
	MemoryLimitMB int `yaml:"memory_limit_mb"`
}

// minMemoryLimitMB is the smallest limit taken: below it the collector
// would run all the time for the switch's own baseline.
const minMemoryLimitMB = 64

func (c RuntimeConfig) Validate() error {
	if c.MemoryLimitMB != 0 && c.MemoryLimitMB < minMemoryLimitMB {
		return fmt.Errorf("runtime.memory_limit_mb: %d is below %d (0: no limit)", c.MemoryLimitMB, minMemoryLimitMB)
	}
	return nil
}

// apply sets the memory limit, unless GOMEMLIMIT set one; it returns
// the limit in force in bytes, or 0 for none.
func (c RuntimeConfig) apply() int64 {
	if os.Getenv("GOMEMLIMIT") == "" && c.MemoryLimitMB > 0 {
		debug.SetMemoryLimit(int64(c.MemoryLimitMB) << 20)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return l
	}
	return 0
}

// ShutdownConfig is the shutdown section.
type ShutdownConfig struct {
	// DrainTimeout bounds how long SIGTERM waits for active calls to end
	// before hanging them up.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

func defaultShutdownConfig() ShutdownConfig { return ShutdownConfig{DrainTimeout: 30 * time.Second} }

func (c ShutdownConfig) Validate() error {
	if c.DrainTimeout < 0 {
		return fmt.Errorf("shutdown.drain_timeout: must not be negative")
	}
	return nil
}

// SIPConfig is the sip section: the edge's keys (listeners, digest auth,
// registrar), the call controller's (advertised host, user agent, ring
// timeout) and the DNS server carriers' SRV names are resolved with. Both
// packages' keys sit side by side in the one section, and their fields are
// promoted here (cfg.SIP.Realm, cfg.SIP.RingTimeout).
type SIPConfig struct {
	SIPEdge   `yaml:",inline"`
	SIPCalls  `yaml:",inline"`
	DNSServer string `yaml:"dns_server"` // IP:port of the DNS server for SRV; default: the system's
}

// The names the two parts of the sip section have inside SIPConfig.
type (
	SIPEdge  = edge.Settings
	SIPCalls = b2bua.Settings
)

func defaultSIPConfig() SIPConfig {
	return SIPConfig{SIPEdge: edge.DefaultSettings(), SIPCalls: b2bua.DefaultSettings()}
}

func (c SIPConfig) Validate() error {
	if err := c.SIPEdge.Validate(); err != nil {
		return err
	}
	if err := c.SIPCalls.Validate(); err != nil {
		return err
	}
	if c.DNSServer != "" {
		if _, err := netip.ParseAddrPort(c.DNSServer); err != nil {
			return fmt.Errorf("sip.dns_server: %q is not IP:port", c.DNSServer)
		}
	}
	return nil
}
