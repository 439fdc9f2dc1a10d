package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/dialtone/dialtone/billing"
)

// checkChartPath refuses a chart file whose format cannot be drawn; the
// command checks it before any work.
func checkChartPath(path string) error {
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".svg" && ext != ".png" {
		return fmt.Errorf("--chart %s: want a .svg or .png file", path)
	}
	return nil
}

// maxChartKeys is how many trunks or destinations a chart shows: the
// largest by revenue.
const maxChartKeys = 12

// summaryChart draws revenue, cost and margin per trunk (or destination)
// over the summary's period as grouped bars, to an .svg or .png file.
func summaryChart(rows []*billing.SummaryRow, title, path string) error {
	if err := checkChartPath(path); err != nil {
		return err
	}
	type total struct {
		key                   string
		revenue, cost, margin float64
	}
	byKey := map[string]*total{}
	for _, r := range rows {
		t := byKey[r.Key]
		if t == nil {
			t = &total{key: r.Key}
			byKey[r.Key] = t
		}
		// Drawing only: the money itself stays exact in the CSV.
		t.revenue += r.Revenue.InexactFloat64()
		t.cost += r.Cost.InexactFloat64()
		t.margin += r.Margin().InexactFloat64()
	}
	totals := make([]*total, 0, len(byKey))
	for _, t := range byKey {
		totals = append(totals, t)
	}
	sort.Slice(totals, func(i, j int) bool {
		if totals[i].revenue != totals[j].revenue {
			return totals[i].revenue > totals[j].revenue
		}
		return totals[i].key < totals[j].key
	})
	if len(totals) > maxChartKeys {
		totals = totals[:maxChartKeys]
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "amount"
	var revenue, cost, margin plotter.Values
	names := make([]string, len(totals))
	for i, t := range totals {
		revenue, cost, margin = append(revenue, t.revenue), append(cost, t.cost), append(margin, t.margin)
		names[i] = t.key
	}
	if len(totals) == 0 {
		revenue, cost, margin, names = plotter.Values{0}, plotter.Values{0}, plotter.Values{0}, []string{"no calls"}
	}
	w := vg.Points(12)
	for i, series := range []struct {
		name   string
		values plotter.Values
	}{{"revenue", revenue}, {"cost", cost}, {"margin", margin}} {
		bars, err := plotter.NewBarChart(series.values, w)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		bars.LineStyle.Width = vg.Length(0)
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(i-1)
		p.Add(bars)
		p.Legend.Add(series.name, bars)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	width := vg.Length(max(6, len(names))) * vg.Inch
	if err := p.Save(width, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}
