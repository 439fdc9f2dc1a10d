package billing_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
)

func TestSummary(t *testing.T) {
	day := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	cdrs := []*dialtone.CDR{
		{EndAt: day, Trunk: "a", Destination: "UK", Disposition: dialtone.Answered, Duration: 90 * time.Second, BilledSeconds: 120, Price: d("0.20"), Cost: d("0.045"), Currency: "USD"},
		{EndAt: day.Add(time.Hour), Trunk: "a", Destination: "UK", Disposition: dialtone.Answered, Duration: 30 * time.Second, BilledSeconds: 60, Price: d("0.10"), Cost: d("0.015"), Currency: "USD"},
		{EndAt: day.Add(2 * time.Hour), Trunk: "a", Destination: "UK", Disposition: dialtone.Busy, Currency: "USD"},
		{EndAt: day.Add(24 * time.Hour), Trunk: "b", Destination: "USA", Disposition: dialtone.Answered, Duration: 61 * time.Second, BilledSeconds: 61, Price: d("0.0061"), Cost: d("0.007"), Currency: "USD"},
	}
	s := billing.NewSummary(billing.ByTrunk)
	for _, c := range cdrs {
		s.Add(c)
	}
	var buf bytes.Buffer
	if err := s.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := `day,trunk,calls,answered,minutes,billed_seconds,revenue,cost,margin,asr_percent,acd_seconds,currency
2026-11-24,a,3,2,2.00,180,0.300000,0.060000,0.240000,66.67,60.0,USD
2026-11-25,b,1,1,1.02,61,0.006100,0.007000,-0.000900,100.00,61.0,USD
`
	if got := buf.String(); got != want {
		t.Errorf("WriteCSV() =\n%s\nwant\n%s", got, want)
	}
	byDest := billing.NewSummary(billing.ByDestination)
	for _, c := range cdrs {
		byDest.Add(c)
	}
	buf.Reset()
	byDest.WriteCSV(&buf)
	if !strings.Contains(buf.String(), "2026-11-24,UK,3,2,") || !strings.HasPrefix(buf.String(), "day,destination,") {
		t.Errorf("WriteCSV(by destination) =\n%s", buf.String())
	}
}

// TestSummaryByDay: a daily series over [from, to) has every day, zeros
// where there were no calls, exact money, and never adds currencies up.
func TestSummaryByDay(t *testing.T) {
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	answered := func(end time.Time, secs int64, price, cost, cur string) *dialtone.CDR {
		return &dialtone.CDR{EndAt: end, Trunk: "a", Disposition: dialtone.Answered, Duration: time.Duration(secs) * time.Second,
			BilledSeconds: secs, Price: d(price), Cost: d(cost), Currency: cur}
	}
	for _, tc := range []struct {
		name     string
		cdrs     []*dialtone.CDR
		from, to time.Time
		want     string
	}{
		{
			name: "a gap is a day of zeros",
			cdrs: []*dialtone.CDR{
				answered(at(24, 10), 90, "0.18", "0.045", "USD"),
				answered(at(24, 23), 30, "0.0612", "0.015", "USD"),
				{EndAt: at(24, 12), Disposition: dialtone.Failed, Currency: "USD"}, // never reached a trunk
				answered(at(26, 0), 61, "0.1220", "0.0305", "USD"),
				{EndAt: at(26, 1), Trunk: "a", Disposition: dialtone.NoAnswer, Currency: "USD"},
			},
			from: at(24, 0), to: at(27, 0),
			want: `day,calls,answered,minutes,billed_seconds,revenue,cost,margin,asr_percent,acd_seconds,currency
2026-11-24,3,2,2.00,120,0.241200,0.060000,0.181200,66.67,60.0,USD
2026-11-25,0,0,0.00,0,0.000000,0.000000,0.000000,0.00,0.0,USD
2026-11-26,2,1,1.02,61,0.122000,0.030500,0.091500,50.00,61.0,USD
`,
		},
		{
			name: "two currencies stay apart",
			cdrs: []*dialtone.CDR{
				answered(at(24, 10), 60, "0.10", "0.02", "USD"),
				answered(at(24, 11), 60, "15", "3", "JPY"),
			},
			from: at(24, 0), to: at(26, 0),
			want: `day,calls,answered,minutes,billed_seconds,revenue,cost,margin,asr_percent,acd_seconds,currency
2026-11-24,1,1,1.00,60,15.000000,3.000000,12.000000,100.00,60.0,JPY
2026-11-24,1,1,1.00,60,0.100000,0.020000,0.080000,100.00,60.0,USD
2026-11-25,0,0,0.00,0,0.000000,0.000000,0.000000,0.00,0.0,JPY
2026-11-25,0,0,0.00,0,0.000000,0.000000,0.000000,0.00,0.0,USD
`,
		},
		{
			name: "no calls: no rows",
			from: at(24, 0), to: at(26, 0),
			want: "day,calls,answered,minutes,billed_seconds,revenue,cost,margin,asr_percent,acd_seconds,currency\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := billing.NewSummary(billing.ByDay)
			for _, c := range tc.cdrs {
				s.Add(c)
			}
			s.FillDays(tc.from, tc.to)
			var buf bytes.Buffer
			if err := s.WriteCSV(&buf); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("WriteCSV() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
