package companion

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone"
)

// Settings is the api section of the configuration file. Every key is
// documented in README.md. DefaultSettings gives the defaults; Validate
// checks a decoded section and changes nothing; Config turns it into the
// Server's Config.
type Settings struct {
	Listen        string          `yaml:"listen"` // IP:port of the API alone; empty: on http.listen (the switch wires it)
	Tokens        []TokenSettings `yaml:"tokens"`
	Signup        string          `yaml:"signup"`          // open, invite or closed; empty: closed
	InviteCodes   []string        `yaml:"invite_codes"`    // for signup: invite
	TokenTTL      time.Duration   `yaml:"token_ttl"`       // lifetime of a sign-in token
	WebhookSecret string          `yaml:"webhook_secret"`  // HMAC key of payment webhooks; empty: webhooks off
	EnvelopeTTL   time.Duration   `yaml:"envelope_ttl"`    // unclaimed red envelope money goes back after this
	Attachments   string          `yaml:"attachments_dir"` // where chat uploads are kept
	// TrustedProxies are the reverse proxies (addresses and CIDRs) in
	// front of the API whose X-Forwarded-For names the real client.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TokenSettings is an operator's bearer token of the API.
type TokenSettings struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"` // at least 32 characters; use ${ENV}
	Role  string `yaml:"role"`  // finance or operator
}

// RoleToken is a bearer token that lets its holder call the endpoints of
// a role.
type RoleToken struct {
	Name  string
	Token string
	Role  string
}

// RoleFinance may export CDRs (GET /api/v1/cdrs).
const RoleFinance = "finance"

// DefaultSettings are the API's defaults, applied before the file is read.
func DefaultSettings() Settings {
	return Settings{
		Signup:      "closed",
		TokenTTL:    30 * 24 * time.Hour,
		EnvelopeTTL: 24 * time.Hour,
		Attachments: "data/attachments",
	}
}

// Validate reports the first problem, naming its key (api.*).
func (s Settings) Validate() error {
	if s.Listen != "" {
		if _, err := netip.ParseAddrPort(s.Listen); err != nil {
			return fmt.Errorf("api.listen: %q is not IP:port", s.Listen)
		}
	}
	if _, err := dialtone.ParsePrefixes(s.TrustedProxies); err != nil {
		return fmt.Errorf("api.trusted_proxies: %v", err)
	}
	switch s.Signup {
	case "", "open", "closed":
	case "invite":
		if len(s.InviteCodes) == 0 {
			return fmt.Errorf("api.invite_codes: signup: invite needs at least one code")
		}
	default:
		return fmt.Errorf("api.signup: %q is not one of open, invite, closed", s.Signup)
	}
	if s.TokenTTL < time.Minute {
		return fmt.Errorf("api.token_ttl: %v is shorter than 1m", s.TokenTTL)
	}
	if s.EnvelopeTTL < time.Minute {
		return fmt.Errorf("api.envelope_ttl: %v is shorter than 1m", s.EnvelopeTTL)
	}
	if w := s.WebhookSecret; w != "" && len(w) < 32 {
		return fmt.Errorf("api.webhook_secret: is shorter than 32 characters")
	}
	for i, t := range s.Tokens {
		key := fmt.Sprintf("api.tokens[%d]", i)
		if t.Name == "" {
			return fmt.Errorf("%s.name: must not be empty", key)
		}
		if len(t.Token) < 32 {
			return fmt.Errorf("%s.token: is shorter than 32 characters", key)
		}
		if t.Role != RoleFinance && t.Role != RoleOperator {
			return fmt.Errorf("%s.role: %q is not finance or operator", key, t.Role)
		}
	}
	return nil
}

// Config is the Server's configuration these settings give, selling
// bundles, with the limits of accounts that set none.
func (s Settings) Config(bundles []dialtone.Bundle, limits dialtone.Limits) Config {
	c := Config{Signup: s.Signup, InviteCodes: s.InviteCodes, TokenTTL: s.TokenTTL, WebhookSecret: s.WebhookSecret,
		Bundles: bundles, EnvelopeTTL: s.EnvelopeTTL, AttachmentDir: s.Attachments, Limits: limits}
	for _, t := range s.Tokens {
		c.RoleTokens = append(c.RoleTokens, RoleToken(t))
	}
	c.TrustedProxies, _ = dialtone.ParsePrefixes(s.TrustedProxies) // checked by Validate
	return c
}
