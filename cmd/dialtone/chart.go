package main

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
)

// Charts are for reading: the money in them is drawn from floats, while the
// CSV beside them keeps it exact.

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

// chartMargin is the blank border around a chart.
const chartMargin = vg.Length(18)

// summaryChart draws s over [from, to) to an .svg or .png file: a daily
// series when s is by day, else revenue, cost and margin per trunk (or
// destination). The money axis names the currency; a summary of several
// currencies cannot share one axis and is refused.
func summaryChart(s *billing.Summary, from, to time.Time, path string) error {
	if err := checkChartPath(path); err != nil {
		return err
	}
	cur := ""
	switch curs := s.Currencies(); len(curs) {
	case 0:
	case 1:
		cur = curs[0]
	default:
		return fmt.Errorf("--chart: the calls are in %s; a chart shows one currency (choose one with --account)", strings.Join(curs, ", "))
	}
	period := fmt.Sprintf("%s to %s", from.UTC().Format(time.DateOnly), to.UTC().Add(-time.Nanosecond).Format(time.DateOnly))
	if s.By() == billing.ByDay {
		return dailyChart(s.Rows(), from, to, cur, "Daily traffic, "+period, path)
	}
	return keyChart(s.Rows(), cur, fmt.Sprintf("Revenue, cost and margin by %s, %s", s.By(), period), path)
}

// moneyAxis labels p's Y axis with the currency, writes its ticks as
// amounts of that currency, and leaves room at the top for the legend.
func moneyAxis(p *plot.Plot, cur string, top float64) {
	p.Y.Label.Text = "amount"
	if cur != "" {
		p.Y.Label.Text = "amount (" + cur + ")"
	}
	p.Y.Tick.Marker = moneyTicks{cur}
	p.Y.Max = max(p.Y.Max, top*legendRoom)
}

// legendRoom is how far above the largest value a plot with a legend
// reaches, so that the legend does not cover the data.
const legendRoom = 1.4

// moneyTicks are the default ticks written as amounts (dialtone.Amount).
type moneyTicks struct{ cur string }

func (m moneyTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = dialtone.Amount(decimal.NewFromFloat(ticks[i].Value).Round(dialtone.MoneyScale), m.cur)
		}
	}
	return ticks
}

// keyChart draws revenue, cost and margin per key as grouped bars. Keys
// with no money (attempts that never reached a trunk) are left out.
func keyChart(rows []*billing.SummaryRow, cur, title, path string) error {
	type total struct {
		key                   string
		revenue, cost, margin float64
	}
	byKey := map[string]*total{}
	for _, r := range rows {
		if r.Revenue.IsZero() && r.Cost.IsZero() {
			continue
		}
		t := byKey[r.Key]
		if t == nil {
			t = &total{key: r.Key}
			byKey[r.Key] = t
		}
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
	p := newPlot(title)
	var revenue, cost, margin plotter.Values
	names := make([]string, len(totals))
	for i, t := range totals {
		revenue, cost, margin = append(revenue, t.revenue), append(cost, t.cost), append(margin, t.margin)
		names[i] = t.key
	}
	if len(totals) == 0 {
		revenue, cost, margin, names = plotter.Values{0}, plotter.Values{0}, plotter.Values{0}, []string{"no charged calls"}
	}
	width := vg.Length(max(6, len(names)+1)) * vg.Inch
	// Three bars fill about 60 % of a category's width.
	w := max(vg.Points(6), min(vg.Points(40), (width-1.5*vg.Inch)*0.6/vg.Length(3*len(names))))
	top := 0.0
	for i := range revenue {
		top = max(top, revenue[i], cost[i], margin[i])
	}
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
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	moneyAxis(p, cur, top)
	return saveChart(path, width, 4.5*vg.Inch, func(dc draw.Canvas) { p.Draw(dc) })
}

// dailyChart draws one panel per measure over the days of [from, to):
// revenue, cost and margin; minutes; ASR; ACD.
func dailyChart(rows []*billing.SummaryRow, from, to time.Time, cur, title, path string) error {
	byDay := map[string]*billing.SummaryRow{}
	for _, r := range rows {
		byDay[r.Day] = r
	}
	var days []string
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
	}
	n := len(days)
	revenue, cost, margin := make(plotter.XYs, n), make(plotter.XYs, n), make(plotter.XYs, n)
	minutes := make(plotter.Values, n)
	asr, acd := make(plotter.XYs, n), make(plotter.XYs, n)
	for i, day := range days {
		x := float64(i)
		revenue[i].X, cost[i].X, margin[i].X, asr[i].X, acd[i].X = x, x, x, x, x
		if r := byDay[day]; r != nil {
			revenue[i].Y, cost[i].Y, margin[i].Y = r.Revenue.InexactFloat64(), r.Cost.InexactFloat64(), r.Margin().InexactFloat64()
			minutes[i] = r.Minutes().InexactFloat64()
			asr[i].Y, acd[i].Y = r.ASR().InexactFloat64(), r.ACD().InexactFloat64()
		}
	}
	ticks := dayTicks(days)
	panel := func(label string) *plot.Plot {
		p := newPlot("")
		p.Y.Label.Text = label
		p.X.Min, p.X.Max = -0.5, float64(n)-0.5
		p.X.Tick.Marker = ticks
		p.Add(plotter.NewGrid())
		return p
	}
	money := panel("")
	top := 0.0
	for i := range revenue {
		top = max(top, revenue[i].Y, cost[i].Y, margin[i].Y)
	}
	money.Title.Text = title
	if cur != "" {
		money.Title.Text += " (" + cur + ")"
	}
	for i, s := range []struct {
		name string
		xys  plotter.XYs
	}{{"revenue", revenue}, {"cost", cost}, {"margin", margin}} {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		l.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		money.Add(l, pts)
		money.Legend.Add(s.name, l, pts)
	}
	money.Legend.Top = true
	moneyAxis(money, cur, top)
	mins := panel("minutes")
	bars, err := plotter.NewBarChart(minutes, vg.Points(max(2, 360/float64(max(n, 1)))))
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	bars.LineStyle.Width = 0
	bars.Color = color.RGBA{R: 0x4e, G: 0x79, B: 0xa7, A: 0xff}
	mins.Add(bars)
	mins.Y.Min = 0
	asrPlot, acdPlot := panel("ASR (%)"), panel("ACD (seconds)")
	asrPlot.Y.Min, asrPlot.Y.Max = 0, 100
	acdPlot.Y.Min = 0
	for _, pl := range []struct {
		p   *plot.Plot
		xys plotter.XYs
	}{{asrPlot, asr}, {acdPlot, acd}} {
		l, pts, err := plotter.NewLinePoints(pl.xys)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		pl.p.Add(l, pts)
	}
	acdPlot.X.Label.Text = "day (UTC)"
	plots := [][]*plot.Plot{{money}, {mins}, {asrPlot}, {acdPlot}}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Points(14)}
	width := min(24*vg.Inch, max(8*vg.Inch, vg.Length(n)*vg.Points(18)))
	return saveChart(path, width, 11*vg.Inch, func(dc draw.Canvas) {
		cs := plot.Align(plots, tiles, dc)
		for i := range plots {
			plots[i][0].Draw(cs[i][0])
		}
	})
}

// dayTicks labels the days, at most about a dozen of them.
func dayTicks(days []string) plot.ConstantTicks {
	step := max(1, (len(days)+11)/12)
	var ticks plot.ConstantTicks
	for i, d := range days {
		label := ""
		if i%step == 0 {
			label = d
		}
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: label})
	}
	return ticks
}

// newPlot is a plot with the title off the edge.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(10)
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Padding, p.Y.Padding = vg.Points(4), vg.Points(4)
	p.Legend.Padding = vg.Points(4)
	return p
}

// saveChart draws to an .svg or .png file of w x h with a margin all round.
func saveChart(path string, w, h vg.Length, drawFn func(draw.Canvas)) error {
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		c = vgsvg.New(w, h)
	case ".png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))}
	default:
		return checkChartPath(path)
	}
	dc := draw.Crop(draw.New(c), chartMargin, -chartMargin, chartMargin, -chartMargin)
	drawFn(dc)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}
