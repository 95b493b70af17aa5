package compaction

import (
	"fmt"
	"math"
)

const (
	// DefaultMinDeadRatio: a run is rewritten once at least half of its
	// record bytes are dead.
	DefaultMinDeadRatio = 0.5

	// DefaultTargetSize is the largest compacted file Plan merges segments
	// into: the engine's default segment size.
	DefaultTargetSize = 64 << 20
)

// progressEvery is how many bytes a pass reads between Progress calls (and
// cancellation and throttle checks) inside a segment. A variable for the
// tests' sake only.
var progressEvery int64 = 1 << 20

// Options tune compaction. A nil *Options means the defaults; so does a
// zero field, except BytesPerSecond, whose zero means no limit.
type Options struct {
	// MinDeadRatio is the share of dead record bytes, in (0, 1], from
	// which Plan rewrites a run. Zero means DefaultMinDeadRatio.
	MinDeadRatio float64
	// TargetSize bounds the compacted files Plan merges several segments
	// into (the engine passes its segment size). Zero means
	// DefaultTargetSize.
	TargetSize int64
	// MaxRunBytes bounds the record bytes of the segments Plan merges
	// into one run, which are all mapped while it is rewritten: with
	// little live data a run could otherwise take more address space
	// than a 32-bit process has (the engine passes half its
	// MaxMappedBytes). It counts records, not files: a segment that was
	// rolled early maps more than its records. Zero means no bound. A
	// single segment is always a run of its own.
	MaxRunBytes int64
	// BytesPerSecond limits how fast Rewrite and Measure read their
	// sources; zero means no limit. Rewrite reads its sources twice, to
	// decide and to copy (the second time mostly from the page cache):
	// both count.
	BytesPerSecond int64
	// Progress, when set, is called from the compacting goroutine as the
	// work goes on: at least after every segment of each pass and every
	// MiB read. It must not block for long; it may cancel the context.
	Progress func(Progress)
	// Created, when not zero, is the creation time Rewrite writes into
	// the compacted file's header (unix nanoseconds); zero means the
	// clock when it finishes. The engine passes its own time, not
	// before the one it measured retention at: a reopened store stamps
	// no record earlier, and readers measure MaxAge no earlier.
	Created int64

	clock clock // tests replace the real clock (export_test.go)
}

// Phase is what a Rewrite is doing.
type Phase int

const (
	// Measuring: reading every record and asking the keep predicate.
	Measuring Phase = iota
	// Copying: writing the kept records into the new file.
	Copying
	// Swapping: syncing the new file, renaming it into place, removing
	// the old ones.
	Swapping
	// Done: the swap is complete and durable.
	Done
	// Surveying: Measure of every candidate segment, before Plan chooses
	// the runs to rewrite. Only callers that survey report it (engine's
	// Compact does, before any Rewrite); Rewrite goes through the phases
	// above, in order. Last, so that the zero Progress still reads as
	// Measuring.
	Surveying
)

func (p Phase) String() string {
	switch p {
	case Surveying:
		return "surveying"
	case Measuring:
		return "measuring"
	case Copying:
		return "copying"
	case Swapping:
		return "swapping"
	case Done:
		return "done"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Progress tells how far a Rewrite (or Measure) got.
type Progress struct {
	Phase        Phase
	Segments     int   // segments in the run
	SegmentsDone int   // segments finished in this phase
	BytesRead    int64 // record bytes read from the sources so far, both passes
	BytesWritten int64 // record bytes copied into the new file so far
	Kept         int   // records kept so far (final once measuring is done)
	Dropped      int   // records dropped so far
}

// Validate reports a field out of its range, wrapping ErrBadOptions. A
// nil *Options is valid.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	switch {
	case math.IsNaN(o.MinDeadRatio) || o.MinDeadRatio < 0 || o.MinDeadRatio > 1:
		return fmt.Errorf("%w: MinDeadRatio %v not in (0, 1]", ErrBadOptions, o.MinDeadRatio)
	case o.TargetSize < 0:
		return fmt.Errorf("%w: negative TargetSize %d", ErrBadOptions, o.TargetSize)
	case o.MaxRunBytes < 0:
		return fmt.Errorf("%w: negative MaxRunBytes %d", ErrBadOptions, o.MaxRunBytes)
	case o.BytesPerSecond < 0:
		return fmt.Errorf("%w: negative BytesPerSecond %d", ErrBadOptions, o.BytesPerSecond)
	}
	return nil
}

// resolve returns the options in effect: o with defaults filled in.
func (o *Options) resolve() (Options, error) {
	if err := o.Validate(); err != nil {
		return Options{}, err
	}
	var r Options
	if o != nil {
		r = *o
	}
	if r.MinDeadRatio == 0 {
		r.MinDeadRatio = DefaultMinDeadRatio
	}
	if r.TargetSize == 0 {
		r.TargetSize = DefaultTargetSize
	}
	if r.clock.now == nil {
		r.clock = realClock
	}
	return r, nil
}

// String prints the options in effect, defaults filled in.
func (o *Options) String() string {
	if err := o.Validate(); err != nil {
		return err.Error()
	}
	r, _ := o.resolve()
	rate := "unlimited"
	if r.BytesPerSecond > 0 {
		rate = fmt.Sprintf("%d B/s", r.BytesPerSecond)
	}
	runBytes := "unbounded"
	if r.MaxRunBytes > 0 {
		runBytes = fmt.Sprint(r.MaxRunBytes)
	}
	return fmt.Sprintf("compaction{MinDeadRatio: %g, TargetSize: %d, MaxRunBytes: %s, BytesPerSecond: %s, Progress: %t}",
		r.MinDeadRatio, r.TargetSize, runBytes, rate, r.Progress != nil)
}

// report calls the Progress callback, if any.
func (o *Options) report(p Progress) {
	if o.Progress != nil {
		o.Progress(p)
	}
}
