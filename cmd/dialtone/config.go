package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
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
	Runtime  RuntimeConfig            `yaml:"runtime"`
	Billing  billing.Settings         `yaml:"billing"`
	Bundles  []billing.BundleSettings `yaml:"bundles"`
	API      companion.Settings       `yaml:"api"`
	Web      web.Settings             `yaml:"web"`
	Guard    guard.Config             `yaml:"guard"`
	Limits   limits.Settings          `yaml:"limits"`

	// The carrier side (trunks, routes): package trunks defaults and validates it.
	trunks.Config `yaml:",inline"`

	path string // the file it was read from, for errors found later (checkListen)
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
	cfg.path = path
	return cfg, nil
}

// ParseConfig parses YAML text over the defaults, then validates. In every
// value, ${NAME} is replaced by what lookup gives for NAME (comments are
// left alone).
func ParseConfig(raw []byte, lookup func(string) (string, bool)) (*Config, error) {
	cfg := defaultConfig()
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, syntaxError(raw, err)
	}
	if len(doc.Content) > 0 { // an empty file means all defaults
		var missing []string
		expandEnv(&doc, lookup, &missing)
		if len(missing) > 0 {
			return nil, fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
		}
		if err := checkKeys(&doc, reflect.TypeFor[Config](), ""); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := yaml.NewEncoder(&buf).Encode(&doc); err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(&buf)
		dec.KnownFields(true) // checkKeys found every problem; this stays strict all the same
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	cfg.Config.Defaults() // per trunk: the list's items exist only once the file is read
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// syntaxError names the line that breaks the YAML. The parser reports the
// line where the enclosing block began (a mis-indented key in the log
// section is reported at "log:"), so the culprit is found as the first
// line whose prefix of the file fails with the same problem.
func syntaxError(raw []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	problem := msg
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		problem = m[2]
	}
	lines := strings.SplitAfter(string(raw), "\n")
	if len(lines) > maxSearchLines {
		return errors.New(msg)
	}
	for n := 1; n <= len(lines); n++ {
		var doc yaml.Node
		perr := yaml.Unmarshal([]byte(strings.Join(lines[:n], "")), &doc)
		if perr == nil {
			continue
		}
		if m := yamlLine.FindStringSubmatch(strings.TrimPrefix(perr.Error(), "yaml: ")); m != nil && m[2] == problem {
			return fmt.Errorf("line %d (%q): %s", n, strings.TrimRight(lines[n-1], "\r\n"), problem)
		}
	}
	return errors.New(msg)
}

// maxSearchLines bounds the search for a syntax error's line (a parse per
// line): a configuration file is a few hundred lines.
const maxSearchLines = 5000

// yamlLine splits "line N: problem".
var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

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
	for _, section := range []interface{ Validate() error }{c.Log, c.Store, c.SIP, c.Media, c.HTTP, c.Shutdown, c.Runtime, c.Web, c.Billing, c.API, c.Guard, c.Limits} {
		if err := section.Validate(); err != nil {
			return err
		}
	}
	if _, err := c.BundleCatalog(); err != nil {
		return err
	}
	// Accounts that sign up through the API name no rate plan: with sign-up
	// open to anyone, billing.default_plan must price their calls. Calling
	// for free is allowed only when billing.unbilled says so (serve then
	// warns at every start).
	if c.API.Signup == "open" && c.Billing.DefaultPlan == "" && c.Billing.Unbilled != billing.UnbilledAllow {
		return fmt.Errorf("api.signup: open creates accounts without a rate plan, and billing.default_plan is empty: " +
			"set billing.default_plan to the plan that prices their calls (or, for a free service, billing.unbilled: allow)")
	}
	return c.Config.Validate()
}

// BundleCatalog is the bundles section as the products on sale.
func (c *Config) BundleCatalog() ([]dialtone.Bundle, error) { return billing.Catalog(c.Bundles) }
