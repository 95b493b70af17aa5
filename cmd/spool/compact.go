package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/spooldb/spool/bench"
	"github.com/spooldb/spool/engine"
)

func runCompact(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compact", "DIR [--min-dead R] [--rate MB/s]", stderr)
	minDead := fs.Float64("min-dead", 0.5, "rewrite runs of segments whose share of dead bytes is at least this")
	rate := fs.Float64("rate", 0, "read the log at most this many MB/s (0: no limit: the store is not in use meanwhile)")
	dir, err := parseDirArg(fs, args)
	if err != nil {
		return err
	}
	opts, err := compactOptions(*minDead, *rate)
	if err != nil {
		return err
	}
	s, err := openExisting(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	before, err := storeFiles(dir)
	if err != nil {
		return err
	}
	// Ctrl-C stops at the next check; segments already swapped stay so.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := newCompactBar(stderr)
	opts.Progress = bar.update
	rep, runErr := s.Compact(ctx, opts)
	bar.finish()
	if runErr != nil && rep.Damaged == 0 {
		return runErr
	}
	if err := s.Close(); err != nil {
		return err
	}
	after, err := storeFiles(dir)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "store:\t%s\n", dir)
	fmt.Fprintf(w, "segments examined:\t%d (sealed)\n", rep.Segments)
	fmt.Fprintf(w, "segments rewritten:\t%d, into %d compacted files\n", rep.Rewritten, rep.Files)
	fmt.Fprintf(w, "rewritten bytes:\t%s -> %s\n", humanBytes(rep.BytesBefore), humanBytes(rep.BytesAfter))
	fmt.Fprintf(w, "store bytes:\t%s -> %s\n", humanBytes(segmentBytes(before)), humanBytes(segmentBytes(after)))
	fmt.Fprintf(w, "records:\t%d kept, %d dropped\n", rep.Kept, rep.Dropped)
	if rep.Damaged > 0 {
		fmt.Fprintf(w, "damaged segments:\t%d, left as they are (see spool verify)\n", rep.Damaged)
	}
	fmt.Fprintf(w, "time:\t%s", bench.FormatDuration(rep.Duration))
	if rep.BytesBefore > 0 && rep.Duration > 0 {
		fmt.Fprintf(w, " (%.0f MB/s of input)", float64(rep.BytesBefore)/rep.Duration.Seconds()/1e6)
	}
	fmt.Fprintln(w)
	if err := w.Flush(); err != nil {
		return err
	}
	// With damaged segments the others are compacted, and the report is
	// worth printing; the run still did not finish cleanly.
	return runErr
}

// segmentBytes sums the sizes of a store's segment files.
func segmentBytes(files []fileInfo) int64 {
	var n int64
	for _, f := range files {
		if f.segment {
			n += f.size
		}
	}
	return n
}

// compactBar shows how far the run being rewritten got: redrawn in place
// on a terminal, a line per phase otherwise.
type compactBar struct {
	w     io.Writer
	tty   bool
	last  time.Time
	phase engine.CompactProgress
	drawn bool
	runs  int
	// started: a first update came (changed phases are printed on
	// their own line when the output is not a terminal).
	started bool
}

func newCompactBar(w io.Writer) *compactBar { return &compactBar{w: w, tty: isTerminal(w)} }

func (b *compactBar) update(p engine.CompactProgress) {
	changed := !b.started || p.Phase != b.phase.Phase
	b.started = true
	if changed && p.Phase == engine.CompactMeasuring {
		b.runs++ // the first phase of the next run
	}
	b.phase = p
	line := fmt.Sprintf("run %d: %s %d/%d segments, %s read, %s written, %d records kept, %d dropped",
		b.runs, p.Phase, p.SegmentsDone, p.Segments, humanBytes(p.BytesRead), humanBytes(p.BytesWritten), p.Kept, p.Dropped)
	if p.Phase == engine.CompactSurveying {
		line = fmt.Sprintf("surveying %d/%d sealed segments, %s read, %d records live, %d dead",
			p.SegmentsDone, p.Segments, humanBytes(p.BytesRead), p.Kept, p.Dropped)
	}
	if b.tty {
		if time.Since(b.last) < 100*time.Millisecond && !changed {
			return
		}
		b.last, b.drawn = time.Now(), true
		fmt.Fprintf(b.w, "\r%s\x1b[K", line)
		return
	}
	if changed {
		fmt.Fprintln(b.w, line)
	}
}

func (b *compactBar) finish() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
	}
}

// compactOptions turns the flags into the engine's options. The engine
// reads 0 as its defaults (a ratio of 0.5, 64 MB/s) and a negative rate as
// no limit: the flags mean what their help says, or are refused.
func compactOptions(minDead, rate float64) (*engine.CompactOptions, error) {
	if !(minDead > 0 && minDead <= 1) {
		return nil, fmt.Errorf("%w: --min-dead %v: want a share of dead bytes in (0, 1]", errUsage, minDead)
	}
	if !(rate >= 0) || math.IsInf(rate, 1) {
		return nil, fmt.Errorf("%w: --rate %v: want MB/s, or 0 for no limit", errUsage, rate)
	}
	o := &engine.CompactOptions{MinDeadRatio: minDead, BytesPerSecond: -1}
	if rate > 0 {
		o.BytesPerSecond = max(int64(min(rate*1e6, math.MaxInt64/2)), 1)
	}
	return o, nil
}
