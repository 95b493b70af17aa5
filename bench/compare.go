package bench

import "math"

// Stat is one metric of one row over one report's rounds.
type Stat struct {
	Median float64 // NaN when no round measured it (0 or NaN in every round)
	// Spread is (max - min) / 2 / median over the rounds that measured
	// it: the same noise measure as Row.Spread. NaN with fewer than two.
	Spread float64
	N      int // rounds that measured it
}

// Side is one report's view of a row in a comparison.
type Side struct {
	First        Result // the row in the first round that has it: names, notes
	Rounds       int    // rounds that produced the row
	Capped       bool
	EventsPerSec Stat
	P50, P99     Stat // in nanoseconds
}

// Verdict says whether a difference between two reports stands out of
// their noise.
type Verdict int

const (
	// NotApplicable: one side did not measure the metric.
	NotApplicable Verdict = iota
	// Significant: B/A is further from 1 than the combined spread.
	Significant
	// Noise: B/A is within the combined spread ("~", as benchstat prints
	// a difference that is not significant).
	Noise
	// NoEstimate: both sides had one round, so nothing says how large the
	// noise is.
	NoEstimate
)

// Delta is B against A for one metric.
type Delta struct {
	Ratio   float64 // B median / A median; NaN when not applicable
	Noise   float64 // the combined relative spread the ratio was held against
	Verdict Verdict
}

// RowDiff is one row key's comparison. A or B is nil when the row is only
// in the other report.
type RowDiff struct {
	Key, Workload, Params, Durability string

	A, B         *Side
	EventsPerSec Delta
	P50, P99     Delta
}

// Compare matches the rows of two reports by Result.Key (workload, params,
// durability) and compares events/s, p50 and p99: medians over each
// report's rounds, their ratio B/A, and whether the ratio is within the
// noise. The noise of a side is its rounds' spread ((max - min) / 2 /
// median); a difference is Noise when |B/A - 1| is at most the two sides'
// spreads added. When only one side has more than one round, its spread
// stands for both (the same machine is assumed about as noisy twice);
// with one round on each side the verdict is NoEstimate.
//
// Rows come in A's order, then the rows only B has, in B's order.
func Compare(a, b *Report) []RowDiff {
	sa, orderA := sides(a)
	sb, orderB := sides(b)
	var out []RowDiff
	add := func(k string) {
		d := RowDiff{Key: k, A: sa[k], B: sb[k]}
		ref := d.A
		if ref == nil {
			ref = d.B
		}
		d.Workload, d.Params, d.Durability = ref.First.Workload, ref.First.Params, ref.First.Durability
		if d.A != nil && d.B != nil {
			d.EventsPerSec = delta(d.A.EventsPerSec, d.B.EventsPerSec)
			d.P50 = delta(d.A.P50, d.B.P50)
			d.P99 = delta(d.A.P99, d.B.P99)
		} else {
			d.EventsPerSec, d.P50, d.P99 = na(), na(), na()
		}
		out = append(out, d)
	}
	for _, k := range orderA {
		add(k)
	}
	for _, k := range orderB {
		if sa[k] == nil {
			add(k)
		}
	}
	return out
}

// GeomeanEventsPerSec is the geometric mean of the events/s ratios of the
// rows both sides measured, and how many rows that is: one number for "B
// is this much faster overall", as benchstat's geomean line.
func GeomeanEventsPerSec(diffs []RowDiff) (float64, int) {
	sum, n := 0.0, 0
	for _, d := range diffs {
		if r := d.EventsPerSec.Ratio; r > 0 && !math.IsInf(r, 0) {
			sum += math.Log(r)
			n++
		}
	}
	if n == 0 {
		return math.NaN(), 0
	}
	return math.Exp(sum / float64(n)), n
}

func na() Delta { return Delta{Ratio: math.NaN(), Noise: math.NaN()} }

func delta(a, b Stat) Delta {
	d := na()
	if math.IsNaN(a.Median) || math.IsNaN(b.Median) || a.Median <= 0 || b.Median <= 0 {
		return d
	}
	d.Ratio = b.Median / a.Median
	sa, sb := a.Spread, b.Spread
	switch {
	case math.IsNaN(sa) && math.IsNaN(sb):
		d.Verdict = NoEstimate
		return d
	case math.IsNaN(sa):
		sa = sb
	case math.IsNaN(sb):
		sb = sa
	}
	d.Noise = sa + sb
	d.Verdict = Significant
	if math.Abs(d.Ratio-1) <= d.Noise {
		d.Verdict = Noise
	}
	return d
}

// sides collects each row key's rounds of a report. A report without
// rounds (written by hand, or trimmed) falls back to its summary, one
// round per row.
func sides(rep *Report) (map[string]*Side, []string) {
	rounds := rep.Results()
	if len(rounds) == 0 {
		var only []Result
		for _, r := range rep.Rows() {
			only = append(only, r.Result)
		}
		rounds = [][]Result{only}
	}
	order, groups := groupByKey(rounds)
	out := make(map[string]*Side, len(groups))
	for k, g := range groups {
		s := &Side{First: g[0], Rounds: len(g)}
		for _, r := range g {
			s.Capped = s.Capped || r.Capped
		}
		s.EventsPerSec = stat(g, func(r Result) float64 { return r.EventsPerSec })
		s.P50 = stat(g, func(r Result) float64 { return float64(r.P50) })
		s.P99 = stat(g, func(r Result) float64 { return float64(r.P99) })
		out[k] = s
	}
	return out, order
}

func stat(g []Result, get func(Result) float64) Stat {
	var v []float64
	for _, r := range g {
		if x := get(r); x > 0 && !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	s := Stat{Median: median(v), Spread: math.NaN(), N: len(v)}
	if len(v) > 1 && s.Median > 0 {
		// median sorted v: v[0] is the least, the last the greatest.
		s.Spread = (v[len(v)-1] - v[0]) / 2 / s.Median
	}
	return s
}
