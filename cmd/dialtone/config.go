package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/companion"
	"github.com/dialtone/dialtone/media/bridge"
	"github.com/dialtone/dialtone/switch/guard"
	"github.com/dialtone/dialtone/switch/limits"
	"github.com/dialtone/dialtone/trunks"
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
	HTTP     HTTPConfig               `yaml:"http"`
	Shutdown ShutdownConfig           `yaml:"shutdown"`
	Billing  billing.Settings         `yaml:"billing"`
	Bundles  []billing.BundleSettings `yaml:"bundles"`
	API      companion.Settings       `yaml:"api"`
	Web      web.Settings             `yaml:"web"`
	Guard    guard.Config             `yaml:"guard"`
	Limits   limits.Settings          `yaml:"limits"`

	// The carrier side (trunks, routes): package trunks defaults and validates it.
	trunks.Config `yaml:",inline"`
}

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
		Guard:    guard.Defaults(),
		Limits:   limits.DefaultSettings(),
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
	cfg.Config.Defaults() // per trunk: the list's items exist only once the file is read
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
// itself and changes nothing.
func (c *Config) Validate() error {
	for _, section := range []interface{ Validate() error }{c.Log, c.Store, c.SIP, c.Media, c.HTTP, c.Shutdown, c.Web, c.Billing, c.API, c.Guard, c.Limits} {
		if err := section.Validate(); err != nil {
			return err
		}
	}
	if _, err := c.BundleCatalog(); err != nil {
		return err
	}
	return c.Config.Validate()
}

// BundleCatalog is the bundles section as the products on sale.
func (c *Config) BundleCatalog() ([]dialtone.Bundle, error) { return billing.Catalog(c.Bundles) }
