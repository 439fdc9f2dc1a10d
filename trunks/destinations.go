package trunks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialtone/dialtone"
)

// DestinationsConfig is the destinations section: ranges the switch does
// not call. The built-in DefaultBlocked always applies; Block adds to it
// and Allow opens what a block closes (an allowed number is called even
// if a block names it). Numbers are checked in E.164, after Normalize, so
// every spelling of a number meets the same rule.
type DestinationsConfig struct {
	Block NumberSet `yaml:"block"`
	Allow NumberSet `yaml:"allow"`
}

// NumberSet names numbers by E.164 prefix ("+882") or by country (ISO
// 3166 alpha-2, the country phonenumbers gives the number: "TV").
type NumberSet struct {
	Prefixes  []string `yaml:"prefixes"`
	Countries []string `yaml:"countries"`
}

// DefaultBlocked is blocked with no configuration. These ranges cost a
// carrier several dollars a minute, are resold to the fraudsters who
// pump traffic into them (international revenue share fraud), and are
// not where a person calls a friend:
//
//   - +870 Inmarsat, +881 global mobile satellite systems (Iridium,
//     Globalstar, Thuraya): satellite phones.
//   - +882 and +883 International Networks: ITU codes shared by many
//     operators, the most abused ranges in fraud reports.
//   - +878 Universal Personal Telecommunications, +808 International
//     Shared Cost Service, +979 International Premium Rate Service.
//   - Tokelau (TK, +690), Niue (NU, +683), Tuvalu (TV, +688) and Nauru
//     (NR, +674): a few thousand people each, numbering ranges leased out
//     for revenue share and among the top fraud destinations.
//
// Countries with a large population and heavy fraud (Cuba, Latvia,
// Somalia...) are left to the operator: blocking them by default would
// refuse many honest calls. Premium-rate numbers of every country are
// refused by routing unless a route names them (ErrPremium).
var DefaultBlocked = NumberSet{
	Prefixes:  []string{"+808", "+870", "+878", "+881", "+882", "+883", "+979"},
	Countries: []string{"NR", "NU", "TK", "TV"},
}

// BlockedError is a destination the configuration does not call. It is a
// dialtone.ErrBlocked.
type BlockedError struct {
	Number string // E.164
	Rule   string // what blocks it: "prefix +882", "country TV" or "premium-rate number"
}

// premiumRule is the Rule of a premium-rate number no route names.
const premiumRule = "premium-rate number"

// Is makes a premium-rate refusal an ErrPremium too.
func (e *BlockedError) Is(target error) bool { return target == ErrPremium && e.Rule == premiumRule }

func (e *BlockedError) Error() string {
	return fmt.Sprintf("destination %s blocked by %s", e.Number, e.Rule)
}

// Unwrap makes the error a dialtone.ErrBlocked (and so ErrForbidden).
func (e *BlockedError) Unwrap() error { return dialtone.ErrBlocked }

// Warning is the text of the SIP Warning header the app gets with its 403.
func (e *BlockedError) Warning() string { return "destination blocked: " + e.Rule }

// Blocklist decides which normalized numbers may be called. It is not
// changed once built, and safe for concurrent use.
type Blocklist struct {
	block, allow   []string // E.164 digits without '+', longest first
	blockC, allowC map[string]bool
}

// NewBlocklist builds the list of cfg over DefaultBlocked. It fails on a
// prefix that is not '+' and digits, or an unknown country, naming the key.
func NewBlocklist(cfg DestinationsConfig) (*Blocklist, error) {
	b := &Blocklist{blockC: map[string]bool{}, allowC: map[string]bool{}}
	var err error
	if b.block, err = prefixes("block.prefixes", append(slices.Clone(DefaultBlocked.Prefixes), cfg.Block.Prefixes...)); err != nil {
		return nil, err
	}
	if b.allow, err = prefixes("allow.prefixes", cfg.Allow.Prefixes); err != nil {
		return nil, err
	}
	if err := countries("block.countries", append(slices.Clone(DefaultBlocked.Countries), cfg.Block.Countries...), b.blockC); err != nil {
		return nil, err
	}
	if err := countries("allow.countries", cfg.Allow.Countries, b.allowC); err != nil {
		return nil, err
	}
	return b, nil
}

func prefixes(key string, list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, p := range list {
		d, ok := strings.CutPrefix(strings.TrimSpace(p), "+")
		if !ok || d == "" || len(d) > 15 || strings.Trim(d, "0123456789") != "" {
			return nil, keyError(key, "%q is not an E.164 prefix such as \"+882\"", p)
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out, nil
}

func countries(key string, list []string, into map[string]bool) error {
	for _, c := range list {
		c = strings.ToUpper(strings.TrimSpace(c))
		if len(c) != 2 || phonenumbers.GetCountryCodeForRegion(c) == 0 {
			return keyError(key, "%q is not an ISO 3166 country code with a numbering plan", c)
		}
		into[c] = true
	}
	return nil
}

// Check returns a *BlockedError when n may not be called: it falls under a
// blocked prefix or country and under no allowed one.
func (b *Blocklist) Check(n Number) error {
	digits := strings.TrimPrefix(n.E164, "+")
	if b.allowC[n.Country] || matchPrefix(b.allow, digits) != "" {
		return nil
	}
	if p := matchPrefix(b.block, digits); p != "" {
		return &BlockedError{Number: n.E164, Rule: "prefix +" + p}
	}
	if b.blockC[n.Country] {
		return &BlockedError{Number: n.E164, Rule: "country " + n.Country}
	}
	return nil
}

// matchPrefix is the longest of prefixes (sorted longest first) that
// digits starts with, or "".
func matchPrefix(prefixes []string, digits string) string {
	for _, p := range prefixes {
		if strings.HasPrefix(digits, p) {
			return p
		}
	}
	return ""
}
