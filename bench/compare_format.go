package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ComparisonColumns are the columns of WriteComparison's table.
var ComparisonColumns = []string{"workload", "params", "durability", "rounds A/B",
	"events/s A", "events/s B", "B/A", "p50 A", "p50 B", "B/A", "p99 A", "p99 B", "B/A", "note"}

// WriteComparison prints two reports side by side: a header naming them
// and the facts in which they differ (a ratio across machines or
// configurations means something else than one across commits), then one
// line per row key with ComparisonColumns, then the geometric mean of the
// events/s ratios and a legend.
func WriteComparison(w io.Writer, nameA string, a *Report, nameB string, b *Report) error {
	var sb strings.Builder
	for _, s := range []struct {
		label, name string
		rep         *Report
	}{{"A", nameA, a}, {"B", nameB, b}} {
		fmt.Fprintf(&sb, "# %s: %s (%s, spool %s, %s)\n", s.label, s.name, s.rep.Started.Format(time.RFC3339), s.rep.SpoolVersion, roundsOf(s.rep))
		if s.rep.Incomplete != "" {
			// Its rows or rounds stop where the run did.
			fmt.Fprintf(&sb, "# %s is INCOMPLETE: %s\n", s.label, s.rep.Incomplete)
		}
	}
	for _, d := range differingFacts(a, b) {
		fmt.Fprintf(&sb, "# differs: %s: A %q, B %q\n", d[0], d[1], d[2])
	}
	sb.WriteString("\n")
	if _, err := io.WriteString(w, sb.String()); err != nil {
		return err
	}

	diffs := Compare(a, b)
	cells := [][]string{ComparisonColumns}
	anyNoEstimate := false
	for _, d := range diffs {
		rounds := func(s *Side) string {
			if s == nil {
				return "-"
			}
			return strconv.Itoa(s.Rounds)
		}
		var note []string
		switch {
		case d.A == nil:
			note = append(note, "only in B")
		case d.B == nil:
			note = append(note, "only in A")
		}
		if d.A != nil && d.A.Capped {
			note = append(note, "A time-capped")
		}
		if d.B != nil && d.B.Capped {
			note = append(note, "B time-capped")
		}
		row := []string{d.Workload, d.Params, d.Durability, rounds(d.A) + "/" + rounds(d.B)}
		for _, m := range []struct {
			get   func(*Side) Stat
			delta Delta
			fmt   func(float64) string
		}{
			{func(s *Side) Stat { return s.EventsPerSec }, d.EventsPerSec, FormatCount},
			{func(s *Side) Stat { return s.P50 }, d.P50, formatNanos},
			{func(s *Side) Stat { return s.P99 }, d.P99, formatNanos},
		} {
			row = append(row, statCell(d.A, m.get, m.fmt), statCell(d.B, m.get, m.fmt), ratioCell(m.delta))
			anyNoEstimate = anyNoEstimate || m.delta.Verdict == NoEstimate
		}
		cells = append(cells, append(row, strings.Join(note, "; ")))
	}
	if err := writeAligned(w, cells, func(i int) bool { return i < 3 || i == len(ComparisonColumns)-1 }); err != nil {
		return err
	}

	sb.Reset()
	if g, n := GeomeanEventsPerSec(diffs); n > 0 {
		fmt.Fprintf(&sb, "\ngeomean events/s B/A: %.2fx over %d rows\n", g, n)
	}
	sb.WriteString("\nB/A is B's median over A's; ±x% is a side's spread over its rounds ((max - min) / 2 / median).\n")
	sb.WriteString("~ marks a ratio within the combined spread (|B/A - 1| <= spread A + spread B): not significant.\n")
	if anyNoEstimate {
		sb.WriteString("? marks a ratio with one round on each side: no noise estimate; run both with --rounds 3 or more.\n")
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func roundsOf(rep *Report) string {
	switch len(rep.Rounds) {
	case 0:
		return "summary only"
	case 1:
		return "1 round"
	}
	return strconv.Itoa(len(rep.Rounds)) + " rounds"
}

// differingFacts lists the header facts whose values differ between the
// reports (name, A's value, B's value), in A's order then B's; the run's
// date and the column legend are left out, they always or never differ.
func differingFacts(a, b *Report) [][3]string {
	skip := map[string]bool{"run": true, "columns": true}
	va, vb := map[string]string{}, map[string]string{}
	for _, f := range a.Facts {
		va[f.Name] = f.Value
	}
	for _, f := range b.Facts {
		vb[f.Name] = f.Value
	}
	var out [][3]string
	seen := map[string]bool{}
	for _, f := range append(append([]Fact(nil), a.Facts...), b.Facts...) {
		if skip[f.Name] || seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		if x, y := factOr(va, f.Name), factOr(vb, f.Name); x != y {
			out = append(out, [3]string{f.Name, x, y})
		}
	}
	return out
}

func factOr(m map[string]string, name string) string {
	if v, ok := m[name]; ok {
		return v
	}
	return "(absent)"
}

func statCell(s *Side, get func(*Side) Stat, format func(float64) string) string {
	if s == nil {
		return "-"
	}
	st := get(s)
	if math.IsNaN(st.Median) {
		return "-"
	}
	c := format(st.Median)
	if !math.IsNaN(st.Spread) {
		c += fmt.Sprintf(" ±%.0f%%", st.Spread*100)
	}
	return c
}

func ratioCell(d Delta) string {
	switch d.Verdict {
	case Significant:
		return fmt.Sprintf("%.2fx", d.Ratio)
	case Noise:
		return fmt.Sprintf("~ %.2fx", d.Ratio)
	case NoEstimate:
		return fmt.Sprintf("? %.2fx", d.Ratio)
	}
	return "-"
}

func formatNanos(v float64) string { return FormatDuration(time.Duration(v)) }
