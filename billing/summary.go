package billing

import (
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// SummaryKey groups a summary: by trunk, by destination, or by day alone
// (a daily series).
type SummaryKey string

const (
	ByTrunk       SummaryKey = "trunk"
	ByDestination SummaryKey = "destination"
	ByDay         SummaryKey = "day"
)

// SummaryRow is one day and trunk (or destination) of traffic in one
// currency: money of different currencies is never added up.
type SummaryRow struct {
	Day      string // YYYY-MM-DD, UTC
	Key      string // the trunk or destination; the day again when by day
	Currency string
	Calls    int64 // attempts
	Answered int64
	Seconds  int64 // answered call time (not rounded by increments)
	Billed   int64 // billed seconds
	Revenue  decimal.Decimal
	Cost     decimal.Decimal
}

// Margin is revenue minus cost.
func (r *SummaryRow) Margin() decimal.Decimal { return r.Revenue.Sub(r.Cost) }

// ASR is the answer-seizure ratio in percent, two decimals.
func (r *SummaryRow) ASR() decimal.Decimal {
	if r.Calls == 0 {
		return decimal.Zero
	}
	return decimal.NewFromInt(r.Answered * 100).Div(decimal.NewFromInt(r.Calls)).Round(2)
}

// ACD is the average duration of answered calls in seconds, one decimal.
func (r *SummaryRow) ACD() decimal.Decimal {
	if r.Answered == 0 {
		return decimal.Zero
	}
	return decimal.NewFromInt(r.Seconds).Div(decimal.NewFromInt(r.Answered)).Round(1)
}

// Minutes is the answered time in minutes, two decimals.
func (r *SummaryRow) Minutes() decimal.Decimal {
	return decimal.NewFromInt(r.Seconds).Div(decimal.NewFromInt(60)).Round(2)
}

// Summary adds CDRs up per day, key and currency. Memory grows with
// days x keys, not with CDRs.
type Summary struct {
	by   SummaryKey
	rows map[[3]string]*SummaryRow
}

// NewSummary groups by by.
func NewSummary(by SummaryKey) *Summary {
	return &Summary{by: by, rows: map[[3]string]*SummaryRow{}}
}

// By is what the summary groups by.
func (s *Summary) By() SummaryKey { return s.by }

// row finds or makes the row of a day, key and currency.
func (s *Summary) row(day, key, cur string) *SummaryRow {
	k := [3]string{day, key, cur}
	r := s.rows[k]
	if r == nil {
		r = &SummaryRow{Day: day, Key: key, Currency: cur}
		s.rows[k] = r
	}
	return r
}

// Add counts one CDR.
func (s *Summary) Add(c *dialtone.CDR) error {
	key := c.Trunk
	if s.by == ByDestination {
		key = c.Destination
		if key == "" {
			key = "(unrated)"
		}
	} else if key == "" {
		key = "(none)" // attempts that never reached a trunk
	}
	day := c.EndAt.UTC().Format(time.DateOnly)
	if s.by == ByDay {
		key = day
	}
	r := s.row(day, key, c.Currency)
	r.Calls++
	if c.Disposition == dialtone.Answered {
		r.Answered++
		r.Seconds += Seconds(c.Duration)
		r.Billed += c.BilledSeconds
	}
	r.Revenue = r.Revenue.Add(c.Price)
	r.Cost = r.Cost.Add(c.Cost)
	return nil
}

// FillDays adds a row of zeros for each day in [from, to) that had no
// calls, in each currency the summary has: a daily series has every day.
// It only applies to a summary by day.
func (s *Summary) FillDays(from, to time.Time) {
	if s.by != ByDay {
		return
	}
	curs := s.Currencies()
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		for _, cur := range curs {
			s.row(day, day, cur)
		}
	}
}

// Currencies lists the currencies of the summary's CDRs, sorted.
func (s *Summary) Currencies() []string {
	seen := map[string]bool{}
	var out []string
	for k := range s.rows {
		if !seen[k[2]] {
			seen[k[2]] = true
			out = append(out, k[2])
		}
	}
	sort.Strings(out)
	return out
}

// Rows returns the rows by day, then key, then currency.
func (s *Summary) Rows() []*SummaryRow {
	out := make([]*SummaryRow, 0, len(s.rows))
	for _, r := range s.rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Currency < out[j].Currency
	})
	return out
}

// WriteCSV writes the rows with a header. The CSV is for finance's tools,
// like the CDR export: money has the full stored precision
// (dialtone.ExportMoney), with its currency in the last column. A summary
// by day has no key column.
func (s *Summary) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"day", string(s.by), "calls", "answered", "minutes", "billed_seconds", "revenue", "cost", "margin", "asr_percent", "acd_seconds", "currency"}
	if s.by == ByDay {
		head = append(head[:1], head[2:]...)
	}
	_ = cw.Write(head)
	for _, r := range s.Rows() {
		rec := []string{r.Day, r.Key, strconv.FormatInt(r.Calls, 10), strconv.FormatInt(r.Answered, 10), r.Minutes().StringFixed(2),
			strconv.FormatInt(r.Billed, 10), dialtone.ExportMoney(r.Revenue), dialtone.ExportMoney(r.Cost), dialtone.ExportMoney(r.Margin()),
			r.ASR().StringFixed(2), r.ACD().StringFixed(1), r.Currency}
		if s.by == ByDay {
			rec = append(rec[:1], rec[2:]...)
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}
