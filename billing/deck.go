package billing

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// DeckColumns are the columns of a rate deck CSV. The first line names them
// (in any order); prefix, destination and rate are required.
//
//	prefix           E.164 digits without '+', e.g. 447
//	destination      a name, e.g. "United Kingdom - Mobile"
//	rate             price per minute, e.g. 0.0875 (at most 6 decimals)
//	connect_fee      charged once per answered call (default 0)
//	first_increment  seconds (default 60)
//	next_increment   seconds (default 60)
//	effective_from   YYYY-MM-DD or RFC 3339, UTC (default: always)
//	effective_to     exclusive, same format (default: open-ended)
//	number_type      one of dialtone.NumberTypes; empty: any
var DeckColumns = []string{"prefix", "destination", "rate", "connect_fee", "first_increment", "next_increment",
	"effective_from", "effective_to", "number_type"}

var requiredColumns = []string{"prefix", "destination", "rate"}

// DeckError is a problem on one line of a deck.
type DeckError struct {
	Line  int
	Field string
	Err   string
}

func (e *DeckError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Field, e.Err)
}

func (e *DeckError) Unwrap() error { return dialtone.ErrInvalid }

// maxDeckErrors is how many problems ParseDeck reports before it stops.
const maxDeckErrors = 50

// ParseDeck reads a rate deck. It reads the whole deck and returns every
// problem (up to 50), each a *DeckError naming its line and field; the rates
// are only good when the error is nil. progress, if not nil, is called with
// the bytes read so far.
func ParseDeck(r io.Reader, progress func(read int64)) ([]dialtone.Rate, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &DeckError{Line: 1, Err: "the deck is empty; the first line must name the columns"}
	}
	if err != nil {
		return nil, deckReadError(err)
	}
	col := map[string]int{}
	var errs []error
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !slices.Contains(DeckColumns, name):
			errs = append(errs, &DeckError{Line: 1, Field: fmt.Sprintf("column %d", i+1), Err: fmt.Sprintf("unknown column %q (known: %s)", h, strings.Join(DeckColumns, ", "))})
		case col[name] != 0:
			errs = append(errs, &DeckError{Line: 1, Field: name, Err: "column named twice"})
		default:
			col[name] = i + 1 // 0 means absent
		}
	}
	for _, c := range requiredColumns {
		if col[c] == 0 {
			errs = append(errs, &DeckError{Line: 1, Field: c, Err: "required column is missing"})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	type key struct {
		prefix, typ string
		from        int64
	}
	seen := map[key]int{}
	var rates []dialtone.Rate
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, deckReadError(err))
			if len(errs) >= maxDeckErrors {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if progress != nil {
			progress(cr.InputOffset())
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		get := func(name string) string {
			if i := col[name]; i > 0 && i <= len(rec) {
				return strings.TrimSpace(rec[i-1])
			}
			return ""
		}
		if len(rec) != len(header) {
			errs = append(errs, &DeckError{Line: line, Err: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
		} else if r, rowErrs := parseRate(line, get); len(rowErrs) > 0 {
			errs = append(errs, rowErrs...)
		} else {
			k := key{r.Prefix, r.NumberType, r.From.UnixMicro()}
			if first, dup := seen[k]; dup {
				errs = append(errs, &DeckError{Line: line, Field: "prefix", Err: fmt.Sprintf("%s with the same number type and effective date is on line %d too", r.Prefix, first)})
			} else {
				seen[k] = line
				rates = append(rates, r)
			}
		}
		if len(errs) >= maxDeckErrors {
			errs = append(errs, fmt.Errorf("%w: stopped after %d problems", dialtone.ErrInvalid, maxDeckErrors))
			break
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(rates) == 0 {
		return nil, &DeckError{Line: 2, Err: "the deck has no rates"}
	}
	return rates, nil
}

func deckReadError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &DeckError{Line: pe.Line, Field: fmt.Sprintf("column %d", pe.Column), Err: pe.Err.Error()}
	}
	return fmt.Errorf("read deck: %w", err)
}

func parseRate(line int, get func(string) string) (dialtone.Rate, []error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &DeckError{Line: line, Field: field, Err: fmt.Sprintf(format, args...)})
	}
	r := dialtone.Rate{Prefix: get("prefix"), Destination: get("destination"), NumberType: strings.ToLower(get("number_type"))}
	if r.Prefix == "" || len(r.Prefix) > 15 || strings.Trim(r.Prefix, "0123456789") != "" {
		bad("prefix", "%q is not 1 to 15 digits", r.Prefix)
	}
	if len(r.Destination) > 200 {
		bad("destination", "longer than 200 characters")
	}
	money := func(field, def string) decimal.Decimal {
		s := get(field)
		if s == "" {
			if def == "" {
				bad(field, "is empty")
			}
			s = def
		}
		d, err := dialtone.ParseAmount(s)
		switch {
		case err != nil:
			bad(field, "%q is not a decimal with at most %d places", s, dialtone.MoneyScale)
		case d.IsNegative():
			bad(field, "%s is negative", s)
		}
		return d
	}
	r.PerMinute = money("rate", "")
	r.ConnectFee = money("connect_fee", "0")
	inc := func(field string) int64 {
		s := get(field)
		if s == "" {
			return 60
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > 3600 {
			bad(field, "%q is not a whole number of seconds from 1 to 3600", s)
		}
		return n
	}
	r.FirstIncrement, r.NextIncrement = inc("first_increment"), inc("next_increment")
	date := func(field string) time.Time {
		s := get(field)
		if s == "" {
			return time.Time{}
		}
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			bad(field, "%q is not YYYY-MM-DD or RFC 3339", s)
		}
		return t.UTC()
	}
	r.From, r.To = date("effective_from"), date("effective_to")
	if r.From.IsZero() {
		r.From = time.Unix(0, 0).UTC()
	}
	if !r.To.IsZero() && !r.To.After(r.From) {
		bad("effective_to", "%s is not after effective_from %s", r.To.Format(time.DateOnly), r.From.Format(time.DateOnly))
	}
	if r.NumberType != "" {
		if _, err := dialtone.ParseNumberType(r.NumberType); err != nil {
			bad("number_type", "%q is not one of %s", r.NumberType, dialtone.NumberTypeNames())
		}
	}
	return r, errs
}
