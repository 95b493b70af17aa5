package compaction

import (
	"context"
	"fmt"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// Source is one sealed segment to compact: its file name, the range of log
// positions it covers and its open file. End is the next segment's base
// (for a compacted segment its header says so too, and must agree). The
// file may be ordinary or compacted; compaction only reads it.
type Source struct {
	Name      string
	Base, End uint64
	File      mmapfile.File
}

// Keep decides whether a record stays. It is called once per record, in
// position order, only with records that verified; the record and its
// byte fields are valid during the call only.
type Keep func(r *segment.Record) bool

// SegmentStats describes what compacting one segment would gain.
type SegmentStats struct {
	Name      string
	Base, End uint64
	Compacted bool
	// Records and Bytes count the records in the file and their bytes,
	// padding included; LiveRecords and LiveBytes those the keep predicate
	// keeps. For a compacted segment Bytes is what its file holds now,
	// not its range, so a file compacted once does not look dead forever.
	Records, LiveRecords int
	Bytes, LiveBytes     int64
	// FileBytes is the size of the segment's file now: a rewrite must
	// come out smaller (see Plan).
	FileBytes int64
}

// Dead is the share of the segment's record bytes that compaction would
// drop; 0 for a segment without records.
func (s SegmentStats) Dead() float64 {
	if s.Bytes == 0 {
		return 0
	}
	return float64(s.Bytes-s.LiveBytes) / float64(s.Bytes)
}

// Measure reads every record of src, verifying it, and counts what keep
// keeps. It honours ctx, the rate limit and the progress callback of opts
// (reported as a one-segment Measuring phase).
func Measure(ctx context.Context, src Source, keep Keep, opts *Options) (SegmentStats, error) {
	o, err := opts.resolve()
	if err != nil {
		return SegmentStats{}, err
	}
	if keep == nil {
		return SegmentStats{}, fmt.Errorf("%w: nil keep predicate", ErrBadRun)
	}
	st := SegmentStats{Name: src.Name, Base: src.Base, End: src.End, FileBytes: src.File.Size()}
	p := Progress{Phase: Measuring, Segments: 1}
	w := walker{ctx: ctx, opts: &o, thr: newThrottle(o.BytesPerSecond, o.clock), prog: &p}
	err = mmapfile.Guard(func() error {
		return w.walk(src, func(c *segment.Cursor) error {
			n := int64(len(c.Raw()))
			st.Records++
			st.Bytes += n
			if keep(c.Record()) {
				st.LiveRecords++
				st.LiveBytes += n
				p.Kept++
			} else {
				p.Dropped++
			}
			return nil
		}, &st.Compacted)
	})
	if err != nil {
		return SegmentStats{}, fmt.Errorf("compaction: measuring %s: %w", src.Name, err)
	}
	p.SegmentsDone = 1
	w.report()
	return st, nil
}

// walker reads sources record by record, accounting the bytes read to the
// throttle and the progress, and checking for cancellation.
type walker struct {
	ctx  context.Context
	opts *Options
	thr  *throttle
	prog *Progress
}

// walk calls fn with a cursor on each record of src in order, after
// checking src's header against it. compacted, when not nil, is set to
// whether src is a compacted segment. Corruption comes back as a
// *segment.CorruptionError naming src.
func (w *walker) walk(src Source, fn func(c *segment.Cursor) error, compacted *bool) error {
	c, err := openCursor(src)
	if err != nil {
		return err
	}
	if compacted != nil {
		*compacted = c.compacted
	}
	var pending int64 // bytes read since the last account
	for c.Next() {
		n := int64(len(c.Raw()))
		w.prog.BytesRead += n
		if pending += n; pending >= progressEvery {
			if err := w.step(pending); err != nil {
				return err
			}
			pending = 0
		}
		if err := fn(c.Cursor); err != nil {
			return err
		}
	}
	if err := c.Err(); err != nil {
		return segment.WithSegment(err, src.Name)
	}
	return w.step(pending)
}

// step accounts n bytes read: throttle, cancellation, progress.
func (w *walker) step(n int64) error {
	if err := w.thr.account(w.ctx, n); err != nil {
		return err
	}
	w.report()
	return nil
}

// report passes the progress to the callback, unless the work is being
// cancelled: a caller that cancelled hears nothing more.
func (w *walker) report() {
	if w.ctx.Err() == nil {
		w.opts.report(*w.prog)
	}
}

type sourceCursor struct {
	*segment.Cursor
	compacted bool
}

// openCursor reads src's header, checks it against src and returns a
// cursor at its first record.
func openCursor(src Source) (sourceCursor, error) {
	if src.File == nil {
		return sourceCursor{}, fmt.Errorf("%w: %s has no file", ErrBadRun, src.Name)
	}
	b := src.File.Bytes()
	h, err := segment.ReadHeader(b, src.File.Size())
	if err != nil {
		return sourceCursor{}, segment.WithSegment(err, src.Name)
	}
	switch {
	case h.Base != src.Base:
		return sourceCursor{}, fmt.Errorf("%w: %s starts at %d by its header, at %d by the run", ErrBadRun, src.Name, h.Base, src.Base)
	case h.Compacted() && h.End != src.End:
		return sourceCursor{}, fmt.Errorf("%w: compacted %s ends at %d by its header, at %d by the run", ErrBadRun, src.Name, h.End, src.End)
	}
	c, err := segment.NewCursor(b, h, src.End)
	if err != nil {
		return sourceCursor{}, segment.WithSegment(err, src.Name)
	}
	return sourceCursor{c, h.Compacted()}, nil
}
