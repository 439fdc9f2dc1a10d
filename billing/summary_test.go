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
		{EndAt: day, Trunk: "a", Destination: "UK", Disposition: dialtone.Answered, Duration: 90 * time.Second, BilledSeconds: 120, Price: d("0.20"), Cost: d("0.045")},
		{EndAt: day.Add(time.Hour), Trunk: "a", Destination: "UK", Disposition: dialtone.Answered, Duration: 30 * time.Second, BilledSeconds: 60, Price: d("0.10"), Cost: d("0.015")},
		{EndAt: day.Add(2 * time.Hour), Trunk: "a", Destination: "UK", Disposition: dialtone.Busy},
		{EndAt: day.Add(24 * time.Hour), Trunk: "b", Destination: "USA", Disposition: dialtone.Answered, Duration: 61 * time.Second, BilledSeconds: 61, Price: d("0.0061"), Cost: d("0.007")},
	}
	s := billing.NewSummary(billing.ByTrunk)
	for _, c := range cdrs {
		s.Add(c)
	}
	var buf bytes.Buffer
	if err := s.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := `day,trunk,calls,answered,minutes,billed_seconds,revenue,cost,margin,asr_percent,acd_seconds
2026-11-24,a,3,2,2.00,180,0.300000,0.060000,0.240000,66.67,60.0
2026-11-25,b,1,1,1.02,61,0.006100,0.007000,-0.000900,100.00,61.0
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
