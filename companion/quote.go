package companion

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/dialtone/dialtone"
)

// Quoter prices a number for an account as the switch would call it: the
// number normalized in the account's country, the destination checks of
// routing (blocked, no route) and the rate of the account's plan. The
// command wires it to trunks and billing, which this package does not
// import.
type Quoter interface {
	// Quote answers for dialed as acct would dial it. An error wrapping
	// dialtone.ErrInvalidNumber is a number that is not one (yet: a user
	// typing it); a destination the switch would refuse is a Quote that
	// says why, not an error.
	Quote(ctx context.Context, acct *dialtone.Account, dialed string) (Quote, error)
}

// Quote is what a call to a number would cost the account, or why it
// cannot be made.
type Quote struct {
	E164       string
	Country    string // of the number (ISO 3166 alpha-2)
	NumberType string
	// Blocked says what blocks the destination ("prefix +882", "premium
	// rate"); "" when it is not blocked.
	Blocked string
	NoRoute bool // no carrier route serves the number
	// Priced: Rate is the plan's rate for the number. Not priced and not
	// Free: the plan has no rate for it and the call is refused.
	Priced bool
	Rate   dialtone.Rate
	Free   bool // the account's calls are not billed (billing.unbilled: allow)
	// BundleCovers: a bundle the account holds, with seconds left, pays
	// for calls to the number before the wallet does.
	BundleCovers      bool
	BundleSecondsLeft int64
}

// maxDialed bounds what a quote reads; a number as typed is far shorter.
const maxDialed = 64

// quote: GET /api/v1/quote?number=
//
// The price per minute of a number as the signed-in account would call it.
// The dialer asks as its user types (debounced): it reads the store and
// the rate cache only, never a carrier or DNS.
func (s *Server) quote(w http.ResponseWriter, r *http.Request, c *caller) {
	if s.cfg.Quoter == nil {
		writeError(w, http.StatusNotFound, "not_found", "quotes are not available on this switch")
		return
	}
	q := r.URL.Query()
	for k := range q {
		if k != "number" {
			writeError(w, http.StatusBadRequest, "invalid_query", fmt.Sprintf("unknown parameter %q", k))
			return
		}
	}
	dialed := strings.TrimSpace(q.Get("number"))
	if dialed == "" || len(dialed) > maxDialed || !utf8.ValidString(dialed) {
		writeError(w, http.StatusBadRequest, "invalid_query", fmt.Sprintf("number must be 1 to %d characters", maxDialed))
		return
	}
	qt, err := s.cfg.Quoter.Quote(r.Context(), c.account, dialed)
	if errors.Is(err, dialtone.ErrInvalidNumber) {
		writeError(w, http.StatusBadRequest, "invalid_number", fmt.Sprintf("%q is not a phone number dialed from %s", dialed, c.account.Country))
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, quoteView(dialed, c.account.Currency, qt))
}

type quoteJSON struct {
	Number         string `json:"number"`
	E164           string `json:"e164"`
	Country        string `json:"country"`
	NumberType     string `json:"number_type"`
	Destination    string `json:"destination,omitempty"`
	Callable       bool   `json:"callable"`
	Reason         string `json:"reason,omitempty"` // why not callable: blocked, no_route, no_rate
	BlockedReason  string `json:"blocked_reason,omitempty"`
	Currency       string `json:"currency"`
	PerMinute      string `json:"per_minute,omitempty"`
	ConnectFee     string `json:"connect_fee,omitempty"`
	FirstIncrement int64  `json:"first_increment,omitempty"`
	NextIncrement  int64  `json:"next_increment,omitempty"`
	Free           bool   `json:"free,omitempty"`
	BundleCovers   bool   `json:"bundle_covers"`
	BundleSeconds  int64  `json:"bundle_seconds_left"`
}

// quoteView is the JSON of a quote. A destination the switch refuses
// carries no price: reason says which check refuses it, in the order the
// switch makes them (blocked, then no route, then no rate).
func quoteView(dialed, currency string, q Quote) quoteJSON {
	v := quoteJSON{Number: dialed, E164: q.E164, Country: q.Country, NumberType: q.NumberType, Currency: currency,
		Free: q.Free, BundleCovers: q.BundleCovers, BundleSeconds: q.BundleSecondsLeft}
	switch {
	case q.Blocked != "":
		v.Reason, v.BlockedReason = "blocked", q.Blocked
	case q.NoRoute:
		v.Reason = "no_route"
	case q.Free:
		v.Callable = true
	case !q.Priced:
		v.Reason = "no_rate"
	default:
		v.Callable = true
		v.Destination = q.Rate.Destination
		v.PerMinute = dialtone.Amount(q.Rate.PerMinute, currency)
		if q.Rate.ConnectFee.IsPositive() {
			v.ConnectFee = dialtone.Amount(q.Rate.ConnectFee, currency)
		}
		v.FirstIncrement, v.NextIncrement = q.Rate.FirstIncrement, q.Rate.NextIncrement
	}
	if !v.Callable {
		v.BundleCovers, v.BundleSeconds = false, 0
	}
	return v
}
