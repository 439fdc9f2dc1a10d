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

// SummaryKey groups a summary: by trunk or by destination.
type SummaryKey string

const (
	ByTrunk       SummaryKey = "trunk"
	ByDestination SummaryKey = "destination"
)

// SummaryRow is one day and trunk (or destination) of traffic.
type SummaryRow struct {
	Day      string // YYYY-MM-DD, UTC
	Key      string
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

// Summary adds CDRs up per day and key. Memory grows with days x keys,
// not with CDRs.
type Summary struct {
	by   SummaryKey
	rows map[[2]string]*SummaryRow
}

// NewSummary groups by by.
func NewSummary(by SummaryKey) *Summary {
	return &Summary{by: by, rows: map[[2]string]*SummaryRow{}}
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
		key = "(none)"
	}
	day := c.EndAt.UTC().Format(time.DateOnly)
	r := s.rows[[2]string{day, key}]
	if r == nil {
		r = &SummaryRow{Day: day, Key: key}
		s.rows[[2]string{day, key}] = r
	}
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

// Rows returns the rows by day, then key.
func (s *Summary) Rows() []*SummaryRow {
	out := make([]*SummaryRow, 0, len(s.rows))
	for _, r := range s.rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// WriteCSV writes the rows with a header.
func (s *Summary) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"day", string(s.by), "calls", "answered", "minutes", "billed_seconds", "revenue", "cost", "margin", "asr_percent", "acd_seconds"})
	for _, r := range s.Rows() {
		_ = cw.Write([]string{r.Day, r.Key, strconv.FormatInt(r.Calls, 10), strconv.FormatInt(r.Answered, 10), r.Minutes().StringFixed(2),
			strconv.FormatInt(r.Billed, 10), dialtone.ExportMoney(r.Revenue), dialtone.ExportMoney(r.Cost), dialtone.ExportMoney(r.Margin()),
			r.ASR().StringFixed(2), r.ACD().StringFixed(1)})
	}
	cw.Flush()
	return cw.Error()
}
