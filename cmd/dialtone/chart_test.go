package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
)

// chartCDRs: three days, one without calls, and attempts that never
// reached a trunk.
func chartCDRs(cur string) []*dialtone.CDR {
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	d := decimal.RequireFromString
	return []*dialtone.CDR{
		{EndAt: at(24, 9), Trunk: "carrier1", Destination: "UK", Disposition: dialtone.Answered, Duration: 90 * time.Second, BilledSeconds: 120, Price: d("0.24"), Cost: d("0.06"), Currency: cur},
		{EndAt: at(24, 10), Disposition: dialtone.Failed, Currency: cur}, // no trunk: the "(none)" key
		{EndAt: at(26, 9), Trunk: "carrier2", Destination: "USA", Disposition: dialtone.Answered, Duration: 30 * time.Second, BilledSeconds: 30, Price: d("0.05"), Cost: d("0.01"), Currency: cur},
		{EndAt: at(26, 10), Trunk: "carrier2", Destination: "USA", Disposition: dialtone.Busy, Currency: cur},
	}
}

// svgTexts decodes an SVG file and returns the text of its <text> elements.
func svgTexts(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	inText, sawSVG := false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not valid XML: %v", path, err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			sawSVG = sawSVG || el.Name.Local == "svg"
			inText = el.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				texts = append(texts, strings.TrimSpace(string(el)))
			}
		}
	}
	if !sawSVG {
		t.Fatalf("%s has no <svg> element", path)
	}
	return texts
}

func TestSummaryChart(t *testing.T) {
	from, to := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, by := range []billing.SummaryKey{billing.ByTrunk, billing.ByDestination, billing.ByDay} {
		t.Run(string(by), func(t *testing.T) {
			s := billing.NewSummary(by)
			for _, c := range chartCDRs("EUR") {
				s.Add(c)
			}
			s.FillDays(from, to)
			dir := t.TempDir()
			svg, pngPath := filepath.Join(dir, "chart.svg"), filepath.Join(dir, "chart.png")
			for _, p := range []string{svg, pngPath} {
				if err := summaryChart(s, from, to, p); err != nil {
					t.Fatalf("summaryChart(%s) = %v", p, err)
				}
			}
			texts := svgTexts(t, svg)
			joined := strings.Join(texts, "|")
			if !strings.Contains(joined, "amount (EUR)") {
				t.Errorf("SVG texts %q: want the money axis labelled with the currency", texts)
			}
			for _, txt := range texts {
				if txt == "(none)" || txt == "(unrated)" {
					t.Errorf("SVG texts %q: an empty category %q is drawn", texts, txt)
				}
			}
			want := map[billing.SummaryKey][]string{
				billing.ByTrunk:       {"carrier1", "carrier2", "revenue", "margin"},
				billing.ByDestination: {"UK", "USA"},
				billing.ByDay:         {"2026-11-24", "2026-11-25", "2026-11-26", "minutes", "ASR (%)", "ACD (seconds)", "day (UTC)", "Daily traffic, 2026-11-24 to 2026-11-26 (EUR)"},
			}[by]
			for _, w := range want {
				if !strings.Contains("|"+joined+"|", "|"+w+"|") {
					t.Errorf("SVG texts %q: want %q", texts, w)
				}
			}
			f, err := os.Open(pngPath)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("png.Decode(%s) = %v", pngPath, err)
			}
			if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
				t.Errorf("PNG is %v, want a readable size", b)
			}
		})
	}
}

func TestSummaryChartRefuses(t *testing.T) {
	from, to := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	s := billing.NewSummary(billing.ByDay)
	for _, c := range append(chartCDRs("USD"), chartCDRs("EUR")...) {
		s.Add(c)
	}
	path := filepath.Join(t.TempDir(), "chart.svg")
	if err := summaryChart(s, from, to, path); err == nil || !strings.Contains(err.Error(), "EUR, USD") {
		t.Errorf("summaryChart(two currencies) = %v, want an error naming them", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("summaryChart(two currencies) wrote %s", path)
	}
	if err := summaryChart(billing.NewSummary(billing.ByDay), from, to, filepath.Join(t.TempDir(), "chart.pdf")); err == nil {
		t.Errorf("summaryChart(.pdf) = nil, want an error")
	}
	// No calls at all: still a chart, of zeros.
	empty := filepath.Join(t.TempDir(), "empty.svg")
	if err := summaryChart(billing.NewSummary(billing.ByDay), from, to, empty); err != nil {
		t.Errorf("summaryChart(no calls) = %v", err)
	}
	svgTexts(t, empty)
}
