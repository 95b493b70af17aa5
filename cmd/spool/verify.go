package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spooldb/spool/bench"
	"github.com/spooldb/spool/recovery"
)

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "DIR [--max-problems N] [--quiet]", stderr)
	var (
		maxProblems = fs.Int("max-problems", 100, "list at most this many problems (the rest are only counted)")
		quiet       = fs.Bool("quiet", false, "no progress output")
	)
	dir, err := parseDirArg(fs, args)
	if err != nil {
		return err
	}
	opts := &recovery.VerifyOptions{MaxProblems: *maxProblems}
	prog := newProgress(stderr, "verify")
	if !*quiet {
		opts.Progress = prog.update
	}
	start := time.Now()
	rep, err := recovery.Verify(dir, opts)
	prog.finish()
	if err != nil {
		return err
	}
	if err := printVerify(stdout, dir, &rep, time.Since(start)); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("%d problems found", len(rep.Problems)+rep.MoreProblems)
	}
	return nil
}

func printVerify(out io.Writer, dir string, rep *recovery.VerifyReport, took time.Duration) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "store:\t%s\n", dir)
	fmt.Fprintf(w, "segments:\t%d (%s in files)\n", rep.Segments, humanBytes(rep.FileBytes))
	fmt.Fprintf(w, "records:\t%d\n", rep.Records)
	fmt.Fprintf(w, "log bytes:\t%d (%s), end position %d\n", rep.Bytes, humanBytes(rep.Bytes), rep.LogEnd)
	fmt.Fprintf(w, "streams:\t%d\n", rep.Streams)
	switch {
	case rep.IndexChecked:
		fmt.Fprintf(w, "index:\tcompared with the log (%d entries)\n", rep.IndexEntries)
	case rep.IndexDirty:
		fmt.Fprintf(w, "index:\tnot compared: not closed cleanly (unclean shutdown)\n")
	default:
		fmt.Fprintf(w, "index:\tnot compared (see notes)\n")
	}
	if rep.TornBytes > 0 {
		fmt.Fprintf(w, "torn tail:\t%d bytes, cut by the next open\n", rep.TornBytes)
	}
	secs := max(took.Seconds(), 1e-9)
	fmt.Fprintf(w, "verified in:\t%s (%.0f MB/s of log data)\n", bench.FormatDuration(took), float64(rep.Bytes)/secs/1e6)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note:\t%s\n", n)
	}
	if rep.OK() {
		fmt.Fprintf(w, "problems:\tnone\n")
		return w.Flush()
	}
	fmt.Fprintf(w, "problems:\t%d\n", len(rep.Problems)+rep.MoreProblems)
	if err := w.Flush(); err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(out, "  %v\n", p)
	}
	if rep.MoreProblems > 0 {
		fmt.Fprintf(out, "  ... and %d more (raise --max-problems to list them)\n", rep.MoreProblems)
	}
	return nil
}

// progress shows how far a long pass has come on w: one line redrawn in
// place on a terminal, a plain line every 10% otherwise (logs, pipes).
type progress struct {
	w     io.Writer
	what  string
	tty   bool
	start time.Time
	last  time.Time
	tenth int64 // the last 10% step printed, plain mode (0: none yet; 0% says nothing)
	drawn bool
}

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, tty: isTerminal(w), start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(done, total int64) {
	if total <= 0 {
		return
	}
	now := time.Now()
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-9) / 1e6
	if p.tty {
		if now.Sub(p.last) < 100*time.Millisecond && done < total {
			return
		}
		p.last, p.drawn = now, true
		fmt.Fprintf(p.w, "\r%s: %s of %s (%d%%), %.0f MB/s\x1b[K", p.what, humanBytes(done), humanBytes(total), done*100/total, rate)
		return
	}
	tenth := done * 10 / total
	if tenth <= p.tenth {
		return
	}
	p.tenth = tenth
	fmt.Fprintf(p.w, "%s: %s of %s (%d%%), %.0f MB/s\n", p.what, humanBytes(done), humanBytes(total), tenth*10, rate)
}

// finish ends the line redrawn in place, so that what follows starts on
// its own line.
func (p *progress) finish() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
