package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FormatDuration prints d with three significant digits: 35.2µs, 1.23ms,
// 2.01s; "-" for 0.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return sig3(float64(d)/1e3) + "µs"
	case d < time.Second:
		return sig3(float64(d)/1e6) + "ms"
	}
	return sig3(d.Seconds()) + "s"
}

// sig3 prints v with three significant digits (at least as an integer).
func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// FormatBytes prints a byte count in binary units: 64MiB, 512KiB, 100B.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// FormatCount prints a rate as an integer, "-" for 0 or NaN.
func FormatCount(v float64) string {
	if v <= 0 || math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func formatRatio(v float64) string {
	if v <= 0 || math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func formatMB(v float64) string {
	if v <= 0 || math.IsNaN(v) {
		return "-"
	}
	return sig3(v)
}

// TableColumns are the report's columns.
var TableColumns = []string{"workload", "params", "durability", "events/s", "MB/s", "p50", "p99", "p999", "x raw", "dev B/B"}

func formatSecs(v float64) string {
	if v <= 0 || math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// WriteTable prints rows as an aligned, Markdown-compatible table: the
// TableColumns, then events (first round) and seconds (median), then with
// more than one round the rounds and spread columns, then notes.
func WriteTable(w io.Writer, rows []Row) error {
	cells := TableCells(rows)
	last := len(cells[0]) - 1
	return writeAligned(w, cells, func(i int) bool { return i < 3 || i == last })
}

// TableCells returns WriteTable's cells, the head first: the text table
// and the HTML report show the same columns.
func TableCells(rows []Row) [][]string {
	multi := false
	for _, r := range rows {
		if r.Rounds > 1 {
			multi = true
		}
	}
	head := append([]string(nil), TableColumns...)
	head = append(head, "events", "secs")
	if multi {
		head = append(head, "rounds", "spread")
	}
	head = append(head, "notes")
	cells := [][]string{head}
	for _, r := range rows {
		notes := r.Notes
		if r.XBase > 0 && !math.IsNaN(r.XBase) {
			notes = fmt.Sprintf("%.2fx events/s of %s; %s", r.XBase, r.BaseName, notes)
		}
		if r.Capped {
			notes = "time-capped; " + notes
		}
		c := []string{
			r.Workload, r.Params, r.Durability,
			FormatCount(r.EventsPerSec), formatMB(r.MBPerSec),
			FormatDuration(r.P50), FormatDuration(r.P99), FormatDuration(r.P999),
			formatRatio(r.XRaw), formatRatio(r.DevPerByte),
			strconv.FormatInt(r.Events, 10), formatSecs(r.Seconds),
		}
		if multi {
			spread := "-"
			if !math.IsNaN(r.Spread) {
				spread = fmt.Sprintf("±%.0f%%", r.Spread*100)
			}
			c = append(c, strconv.Itoa(r.Rounds), spread)
		}
		cells = append(cells, append(c, notes))
	}
	return cells
}

// writeAligned prints cells (the first row is the head) as an aligned
// Markdown table: columns where left(i) is true are left-aligned, the
// others right-aligned (numbers), with a ":" in the separator line so
// Markdown renderers align them too.
func writeAligned(w io.Writer, cells [][]string, left func(i int) bool) error {
	if len(cells) == 0 {
		return nil
	}
	head := cells[0]
	width := make([]int, len(head))
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(row []string) {
		b.WriteString("|")
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if left(i) {
				b.WriteString(" " + c + pad + " |")
			} else {
				b.WriteString(" " + pad + c + " |")
			}
		}
		b.WriteString("\n")
	}
	line(head)
	b.WriteString("|")
	for i := range head {
		dash := strings.Repeat("-", max(width[i], 1))
		if left(i) {
			b.WriteString(" " + dash + " |")
		} else {
			b.WriteString(" " + dash[:len(dash)-1] + ": |")
		}
	}
	b.WriteString("\n")
	for _, row := range cells[1:] {
		line(row)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
