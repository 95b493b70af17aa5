package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spooldb/spool/engine"
)

// Run runs one round of the suite in a temporary directory under
// cfg.Dir, removed afterwards, and returns its rows. Progress goes to log
// (may be nil). A failed check (wrong count, wrong version order, an
// engine error) stops the round with an error.
func Run(ctx context.Context, cfg Config, log io.Writer) ([]Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	root, err := os.MkdirTemp(cfg.Dir, "spool-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	r := NewRunner(cfg, root, log)
	return r.Suite(ctx)
}

// Suite runs every wanted workload in r's directory.
func (r *Runner) Suite(ctx context.Context) ([]Result, error) {
	c := r.Cfg
	var out []Result
	emit := func(res Result) {
		r.logf("  %-4s %-14s %-15s %s", res.Workload, res.Params, res.Durability, res.brief())
		out = append(out, res)
	}
	pair := func(workload, params string, writers, events, batch int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var raw Result
		if !c.NoRaw {
			var err error
			if raw, err = r.RawRow(ctx, workload, params, writers, events, batch); err != nil {
				return err
			}
			emit(raw)
		}
		res, err := r.AppendRow(ctx, workload, params, engine.SyncEachCommit, writers, events, batch)
		if err != nil {
			return err
		}
		if raw.EventsPerSec > 0 {
			res.XRaw = res.EventsPerSec / raw.EventsPerSec
		}
		emit(res)
		return nil
	}
	if c.Wants("W1") {
		for _, w := range c.Writers {
			n := c.Events
			if w == 1 {
				n = c.EventsSingle
			}
			if err := pair("W1", fmt.Sprintf("C=%d", w), w, n, 1); err != nil {
				return out, err
			}
		}
	}
	if c.Wants("W1b") {
		if err := pair("W1b", fmt.Sprintf("batch=%d", c.Batch), 1, c.Events, c.Batch); err != nil {
			return out, err
		}
	}
	if c.Wants("W1c") {
		for _, w := range c.NoSyncWriters {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			res, err := r.AppendRow(ctx, "W1c", fmt.Sprintf("C=%d", w), engine.NoSync, w, c.Events, 1)
			if err != nil {
				return out, err
			}
			emit(res)
		}
	}
	// Between workloads the run stops once ctx ends (Ctrl-C): not every
	// workload looks at it while it runs.
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if c.Wants("S1") {
		res, err := r.LiveFollow(ctx)
		if err != nil {
			return out, err
		}
		emit(res)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if c.Wants("S2") {
		rows, err := r.Subscribers(ctx)
		for _, res := range rows {
			emit(res)
		}
		if err != nil {
			return out, err
		}
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if c.Wants("L") {
		ls, res, err := r.Load(ctx, "")
		if err != nil {
			return out, err
		}
		defer ls.Close()
		emit(res)
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if c.Wants("W2") {
			rows, err := r.ReadStreams(ctx, ls)
			if err != nil {
				return out, err
			}
			for _, res := range rows {
				emit(res)
			}
		}
		if c.Wants("W3") {
			for _, scan := range []func(*LoadStore) (Result, error){r.ScanAll, r.ScanFiltered} {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				res, err := scan(ls)
				if err != nil {
					return out, err
				}
				emit(res)
			}
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if c.Wants("W5") {
			res, err := r.OpenCrashed(ls)
			if err != nil {
				return out, err
			}
			emit(res)
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if c.Wants("W4") {
			res, err := r.OpenClean(ls)
			if err != nil {
				return out, err
			}
			emit(res)
		}
		if err := ls.Close(); err != nil { // its space, before W6 builds three more
			return out, err
		}
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if c.Wants("W6") {
		rows, err := r.Compaction(ctx)
		for _, res := range rows {
			emit(res)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (r Result) brief() string {
	s := ""
	if r.EventsPerSec > 0 {
		s += fmt.Sprintf("%s ev/s", FormatCount(r.EventsPerSec))
	}
	if r.P50 > 0 {
		s += fmt.Sprintf(" p50 %s", FormatDuration(r.P50))
	}
	if r.P99 > 0 {
		s += fmt.Sprintf(" p99 %s", FormatDuration(r.P99))
	}
	if r.XRaw > 0 && !r.Raw {
		s += fmt.Sprintf(" %.2fx raw", r.XRaw)
	}
	if r.XBase > 0 {
		s += fmt.Sprintf(" %.2fx %s", r.XBase, r.BaseName)
	}
	if !math.IsNaN(r.DevPerByte) && r.DevPerByte > 0 {
		s += fmt.Sprintf(" dev %.2f B/B", r.DevPerByte)
	}
	if r.Capped {
		s += " (time-capped)"
	}
	return strings.TrimSpace(s)
}

// Row is one line of a report over several rounds: the medians of the
// rounds' results and the spread of the headline metric.
type Row struct {
	Result         // medians over the rounds (Seconds too); Events and Notes from the first round; Capped if any round was
	Rounds int     // rounds that produced this row
	Spread float64 // (max - min) / 2 / median of events/s (or p50 when there is no rate); NaN with one round
}

// groupByKey gathers the rounds' results by row key, keys in the order
// they first appear.
func groupByKey(rounds [][]Result) ([]string, map[string][]Result) {
	var keys []string
	groups := map[string][]Result{}
	for _, round := range rounds {
		for _, res := range round {
			k := res.Key()
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], res)
		}
	}
	return keys, groups
}

// Summarize folds rounds of results into one row per workload, in the
// order rows first appear.
func Summarize(rounds [][]Result) []Row {
	keys, groups := groupByKey(rounds)
	rows := make([]Row, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		m := g[0]
		f := func(get func(Result) float64) float64 {
			v := make([]float64, 0, len(g))
			for _, r := range g {
				if x := get(r); !math.IsNaN(x) {
					v = append(v, x)
				}
			}
			return median(v)
		}
		dur := func(get func(Result) time.Duration) time.Duration {
			x := f(func(r Result) float64 { return float64(get(r)) })
			if math.IsNaN(x) {
				return 0
			}
			return time.Duration(x)
		}
		m.EventsPerSec = f(func(r Result) float64 { return r.EventsPerSec })
		m.MBPerSec = f(func(r Result) float64 { return r.MBPerSec })
		m.Seconds = f(func(r Result) float64 { return r.Seconds })
		m.P50 = dur(func(r Result) time.Duration { return r.P50 })
		m.P99 = dur(func(r Result) time.Duration { return r.P99 })
		m.P999 = dur(func(r Result) time.Duration { return r.P999 })
		m.XRaw = f(func(r Result) float64 { return r.XRaw })
		m.XBase = f(func(r Result) float64 { return r.XBase })
		m.DevPerByte = f(func(r Result) float64 { return r.DevPerByte })
		m.Capped = slices.ContainsFunc(g, func(r Result) bool { return r.Capped })
		row := Row{Result: m, Rounds: len(g), Spread: math.NaN()}
		if len(g) > 1 {
			metric := func(r Result) float64 { return r.EventsPerSec }
			if m.EventsPerSec == 0 {
				metric = func(r Result) float64 { return float64(r.P50) }
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, r := range g {
				lo, hi = min(lo, metric(r)), max(hi, metric(r))
			}
			if med := f(metric); med > 0 {
				row.Spread = (hi - lo) / 2 / med
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
