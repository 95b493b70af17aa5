package bench

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	// The SVG backend, named rather than left to plot's blank import of
	// every backend, which the "minimal" build tag drops.
	_ "gonum.org/v1/plot/vg/vgsvg"
)

// Chart is one chart of an HTML report: an SVG file drawn with gonum/plot.
type Chart struct {
	File    string // base name in the report directory, e.g. "throughput.svg"
	Title   string
	Caption string // what the chart shows and how it was measured
}

// charts makes the charts rep's rows allow (a run with --only may have no
// W1 or no W3 rows) and writes them into dir.
func charts(dir string, rep *Report) ([]Chart, error) {
	rows, rounds := rep.Rows(), rep.Results()
	var out []Chart
	for _, c := range []struct {
		chart Chart
		make  func([]Row, [][]Result) (*plot.Plot, bool, error)
	}{
		{Chart{"throughput.svg", "W1 throughput vs writers",
			"Durable single-event appends (W1, SyncEachCommit) against the raw pwrite + fdatasync group commit (raw-pre) with the same writer count, and W1c (NoSync) when measured. Lines join the medians; dots are single rounds."},
			throughputPlot},
		{Chart{"latency.svg", "Latency per operation",
			"p50, p99 and p99.9 of every row that measures latency (log scale): per Append for W1/W1b/W1c/S2, ack to delivery for S1, per whole-stream read for W2, per Open for W4/W5. Medians over the rounds."},
			latencyPlot},
		{Chart{"scan.svg", "W3 scan throughput",
			"ReadAll over the L store: every record (checksums verified, no payload touched), and with the stream-prefix filter (records scanned per second). Medians over the rounds."},
			scanPlot},
	} {
		p, ok, err := c.make(rows, rounds)
		if err != nil {
			return out, fmt.Errorf("bench: chart %s: %w", c.chart.File, err)
		}
		if !ok {
			continue
		}
		if err := saveSVG(p, filepath.Join(dir, c.chart.File)); err != nil {
			return out, err
		}
		out = append(out, c.chart)
	}
	return out, nil
}

// saveSVG draws p at a size that fits a page column.
func saveSVG(p *plot.Plot, path string) error {
	wt, err := p.WriterTo(18*vg.Centimeter, 11*vg.Centimeter, "svg")
	if err != nil {
		return fmt.Errorf("bench: draw %s: %w", path, err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return fmt.Errorf("bench: draw %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// writersOf reads the writer count from params "C=16"; 0 when not one.
func writersOf(params string) int {
	s, ok := strings.CutPrefix(params, "C=")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// throughputPlot: events/s against writer count, log2 x axis (the writer
// counts grow by factors: 1, 16, 256), one line per series.
func throughputPlot(rows []Row, rounds [][]Result) (*plot.Plot, bool, error) {
	series := []struct {
		name string
		keep func(Result) bool
	}{
		{"engine (SyncEachCommit)", func(r Result) bool { return r.Workload == "W1" && !r.Raw }},
		{"raw-pre (pwrite + fdatasync)", func(r Result) bool { return r.Workload == "W1" && r.Raw }},
		{"W1c (NoSync)", func(r Result) bool { return r.Workload == "W1c" }},
	}
	p := plot.New()
	p.Title.Text = "W1: durable appends, one event per Append"
	p.X.Label.Text = "writers (goroutines)"
	p.Y.Label.Text = "events/s"
	p.X.Scale = plot.LogScale{}
	p.Legend.Top = true
	p.Legend.Left = true
	var ticks []int
	drawn := 0
	for i, s := range series {
		var line plotter.XYs
		for _, r := range rows {
			if c := writersOf(r.Params); c > 0 && s.keep(r.Result) && r.EventsPerSec > 0 {
				line = append(line, plotter.XY{X: float64(c), Y: r.EventsPerSec})
				if !slices.Contains(ticks, c) {
					ticks = append(ticks, c)
				}
			}
		}
		if len(line) == 0 {
			continue
		}
		slices.SortFunc(line, func(a, b plotter.XY) int { return int(a.X - b.X) })
		l, pts, err := plotter.NewLinePoints(line)
		if err != nil {
			return nil, false, err
		}
		l.Color = plotutil.Color(i)
		pts.Color, pts.Shape = plotutil.Color(i), plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
		if len(rounds) > 1 {
			var each plotter.XYs
			for _, round := range rounds {
				for _, r := range round {
					if c := writersOf(r.Params); c > 0 && s.keep(r) && r.EventsPerSec > 0 {
						each = append(each, plotter.XY{X: float64(c), Y: r.EventsPerSec})
					}
				}
			}
			sc, err := plotter.NewScatter(each)
			if err != nil {
				return nil, false, err
			}
			sc.Color, sc.Radius = plotutil.Color(i), vg.Points(1.5)
			p.Add(sc)
		}
		drawn++
	}
	if drawn == 0 {
		return nil, false, nil
	}
	slices.Sort(ticks)
	var tk plot.ConstantTicks
	for _, c := range ticks {
		tk = append(tk, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	p.X.Tick.Marker = tk
	// Some room either side, so the end points are not on the frame.
	p.X.Min, p.X.Max = float64(ticks[0])/1.5, float64(ticks[len(ticks)-1])*1.5
	// Room above the highest point for the legend in the top left corner.
	p.Y.Min, p.Y.Max = 0, p.Y.Max*1.3
	p.Add(plotter.NewGrid())
	return p, true, nil
}

// latencyPlot: p50, p99, p99.9 per row on a log scale (they span µs to
// seconds), rows as nominal x labels.
func latencyPlot(rows []Row, _ [][]Result) (*plot.Plot, bool, error) {
	var labels []string
	var q [3]plotter.XYs
	for _, r := range rows {
		if r.P50 <= 0 {
			continue
		}
		x := float64(len(labels))
		label := r.Workload + " " + r.Params
		if r.Raw {
			label += " raw"
		}
		labels = append(labels, label)
		for i, d := range []float64{float64(r.P50), float64(r.P99), float64(r.P999)} {
			if d > 0 {
				q[i] = append(q[i], plotter.XY{X: x, Y: d})
			}
		}
	}
	if len(labels) == 0 {
		return nil, false, nil
	}
	p := plot.New()
	p.Title.Text = "Latency per operation"
	p.Y.Label.Text = "latency (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = durationTicks
	p.NominalX(labels...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.Legend.Top = true
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, name := range []string{"p50", "p99", "p99.9"} {
		if len(q[i]) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(q[i])
		if err != nil {
			return nil, false, err
		}
		sc.Color, sc.Shape, sc.Radius = plotutil.Color(i), plotutil.Shape(i), vg.Points(3)
		p.Add(sc)
		p.Legend.Add(name, sc)
		for _, xy := range q[i] {
			lo, hi = min(lo, xy.Y), max(hi, xy.Y)
		}
	}
	// Whole decades, so LogTicks labels both ends and the legend has room.
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(lo)))
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(hi))+0.5)
	p.X.Min, p.X.Max = -0.5, float64(len(labels))-0.5
	p.Add(plotter.NewGrid())
	return p, true, nil
}

// durationTicks marks a log axis in nanoseconds with decades labelled as
// durations (10µs, 1ms, 1.00s): easier to read than 1e+06.
var durationTicks = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = FormatDuration(time.Duration(ticks[i].Value))
		}
	}
	return ticks
})

// scanPlot: W3 rows as bars of records scanned per second.
func scanPlot(rows []Row, _ [][]Result) (*plot.Plot, bool, error) {
	var vals plotter.Values
	var labels []string
	for _, r := range rows {
		if r.Workload == "W3" && r.EventsPerSec > 0 {
			vals = append(vals, r.EventsPerSec/1e6)
			labels = append(labels, r.Params)
		}
	}
	if len(vals) == 0 {
		return nil, false, nil
	}
	p := plot.New()
	p.Title.Text = "W3: scan of the L store"
	p.Y.Label.Text = "million records/s"
	bars, err := plotter.NewBarChart(vals, vg.Points(50))
	if err != nil {
		return nil, false, err
	}
	bars.Color = plotutil.Color(0)
	p.Add(plotter.NewGrid(), bars)
	p.NominalX(labels...)
	// Half a slot of room either side, and above the highest bar.
	p.X.Min, p.X.Max = -0.5, float64(len(vals))-0.5
	p.Y.Min, p.Y.Max = 0, p.Y.Max*1.1
	return p, true, nil
}
