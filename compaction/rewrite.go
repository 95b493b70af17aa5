package compaction

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"time"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// Result describes a finished Rewrite.
type Result struct {
	// Name is the compacted file's name: the first segment's, which it
	// replaced. Removed lists the other segments of the run, now gone.
	Name    string
	Removed []string
	// Header is the compacted file's header; it covers [Base, End).
	Header    segment.Header
	Base, End uint64
	// Kept and Dropped count records; BytesIn counts the record bytes of
	// the sources, BytesOut the size of the new file.
	Kept, Dropped     int
	BytesIn, BytesOut int64
	// File is the new file, open and mapped (read-write, as Create maps
	// it): the caller owns it and closes it, typically after swapping it
	// into its list of segments in place of the run's files.
	File     mmapfile.File
	Duration time.Duration
}

// Rewrite compacts run, consecutive sealed segments (never the one being
// written), into one compacted segment that keeps the records keep keeps,
// at their positions, and covers the run's whole range. The protocol, and
// what a crash at any point leaves, is in the package doc; the files of
// run are only read, and stay valid for readers that hold them.
//
// A cancelled ctx stops it up to the moment the new file is complete and
// synced: the temp file is removed, the run is left as it was, and the
// error wraps ctx.Err(). From the rename on, Rewrite finishes regardless.
// An error after the rename wraps ErrSwapIncomplete.
func Rewrite(ctx context.Context, fsys mmapfile.FS, run []Source, keep Keep, opts *Options) (Result, error) {
	start := time.Now()
	o, err := opts.resolve()
	if err != nil {
		return Result{}, err
	}
	if err := checkRun(run, keep); err != nil {
		return Result{}, err
	}
	rw := &rewriter{fs: fsys, run: run, keep: keep, opts: &o}
	rw.prog = Progress{Phase: Measuring, Segments: len(run)}
	rw.walker = walker{ctx: ctx, opts: &o, thr: newThrottle(o.BytesPerSecond, o.clock), prog: &rw.prog}
	res, err := rw.rewrite()
	if err != nil {
		return Result{}, fmt.Errorf("compaction: rewrite of %s..%s: %w", run[0].Name, run[len(run)-1].Name, err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// checkRun checks that run is a non-empty sequence of consecutive,
// non-empty segments named for their bases.
func checkRun(run []Source, keep Keep) error {
	if len(run) == 0 {
		return fmt.Errorf("%w: no segments", ErrBadRun)
	}
	if keep == nil {
		return fmt.Errorf("%w: nil keep predicate", ErrBadRun)
	}
	for i, s := range run {
		switch {
		case s.Name != segment.FileName(s.Base):
			return fmt.Errorf("%w: segment %q is not named for its base %d", ErrBadRun, s.Name, s.Base)
		case s.End <= s.Base || s.End > segment.MaxPosition:
			// Two segments cannot share a base, hence a name: every one
			// covers at least one position.
			return fmt.Errorf("%w: %s covers the empty or invalid range [%d, %d)", ErrBadRun, s.Name, s.Base, s.End)
		case s.File == nil:
			return fmt.Errorf("%w: %s has no file", ErrBadRun, s.Name)
		case i > 0 && s.Base != run[i-1].End:
			return fmt.Errorf("%w: %s starts at %d, %s ends at %d", ErrBadRun, s.Name, s.Base, run[i-1].Name, run[i-1].End)
		}
	}
	return nil
}

type rewriter struct {
	walker
	fs   mmapfile.FS
	run  []Source
	keep Keep
	opts *Options
	prog Progress

	keepBits           []uint64 // the measuring pass's decisions, one bit per record in order
	records            int
	liveBytes, inBytes int64
}

func (rw *rewriter) rewrite() (Result, error) {
	if err := mmapfile.Guard(rw.measure); err != nil {
		return Result{}, err
	}
	base, end := rw.run[0].Base, rw.run[len(rw.run)-1].End
	tmp := TempName(base)
	size := segment.CompactedSize(rw.liveBytes, rw.prog.Kept)
	f, err := rw.create(tmp, size)
	if err != nil {
		return Result{}, err
	}
	// The new file is built in memory and written with one pwrite: the
	// first store to each page of a fresh shared file mapping costs a
	// write fault in the file system (ext4 page_mkwrite), several times
	// the copy itself.
	buf := make([]byte, size)
	var h segment.Header
	err = mmapfile.Guard(func() error {
		var err error
		h, err = rw.copy(buf, base, end)
		return err
	})
	if err == nil {
		err = f.WriteAt(buf, 0)
	}
	if err == nil {
		rw.prog.Phase, rw.prog.SegmentsDone = Swapping, 0
		rw.report()
		err = f.Sync(0, size)
	}
	if err == nil {
		// The last moment to back out: from the rename on the new file
		// may be live, and a crash rolls forward.
		err = rw.ctx.Err()
	}
	if err == nil {
		err = rw.fs.Rename(tmp, rw.run[0].Name)
	}
	if err != nil {
		// The rename did not happen: the temp file holds nothing live.
		// Should removing it fail too, Cleanup removes it later.
		_ = f.Close()
		_ = rw.fs.Remove(tmp)
		return Result{}, err
	}
	removed, err := rw.finishSwap()
	if err != nil {
		_ = f.Close()
		return Result{}, fmt.Errorf("%w: %w", ErrSwapIncomplete, err)
	}
	rw.prog.Phase, rw.prog.SegmentsDone = Done, len(rw.run)
	rw.report()
	return Result{
		Name: rw.run[0].Name, Removed: removed, Header: h, Base: base, End: end,
		Kept: rw.prog.Kept, Dropped: rw.prog.Dropped, BytesIn: rw.inBytes, BytesOut: size,
		File: f,
	}, nil
}

// measure reads every record of the run and records keep's decisions:
// keep is asked once per record, so that both passes agree even if its
// answers would change meanwhile (a stream deleted during compaction
// keeps its records until the next one).
func (rw *rewriter) measure() error {
	for i, src := range rw.run {
		err := rw.walk(src, func(c *segment.Cursor) error {
			n := int64(len(c.Raw()))
			rw.inBytes += n
			if rw.records%64 == 0 {
				rw.keepBits = append(rw.keepBits, 0)
			}
			if rw.keep(c.Record()) {
				rw.keepBits[rw.records/64] |= 1 << (rw.records % 64)
				rw.liveBytes += n
				rw.prog.Kept++
			} else {
				rw.prog.Dropped++
			}
			rw.records++
			return nil
		}, nil)
		if err != nil {
			return err
		}
		rw.prog.SegmentsDone = i + 1
		rw.report()
	}
	return nil
}

// create makes the temp file, replacing one an interrupted Rewrite left:
// its rename never happened, so it holds nothing live.
func (rw *rewriter) create(name string, size int64) (mmapfile.File, error) {
	f, err := rw.fs.Create(name, size)
	if errors.Is(err, iofs.ErrExist) {
		if err = rw.fs.Remove(name); err == nil {
			f, err = rw.fs.Create(name, size)
		}
	}
	return f, err
}

// copy writes the kept records into dst, the new file's bytes, and
// finishes it.
func (rw *rewriter) copy(dst []byte, base, end uint64) (segment.Header, error) {
	w, err := segment.NewCompactWriter(dst, base, end, rw.prog.Kept)
	if err != nil {
		return segment.Header{}, err
	}
	rw.prog.Phase, rw.prog.SegmentsDone = Copying, 0
	i := 0
	for si, src := range rw.run {
		err := rw.walk(src, func(c *segment.Cursor) error {
			if i >= rw.records {
				return fmt.Errorf("%w: %s has more records than when measured", ErrSourceChanged, src.Name)
			}
			kept := rw.keepBits[i/64]&(1<<(i%64)) != 0
			i++
			if !kept {
				return nil
			}
			if err := w.Add(c.Raw(), c.Pos()); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrSourceChanged, src.Name, err)
			}
			rw.prog.BytesWritten += int64(len(c.Raw()))
			return nil
		}, nil)
		if err != nil {
			return segment.Header{}, err
		}
		rw.prog.SegmentsDone = si + 1
		rw.report()
	}
	if i != rw.records {
		return segment.Header{}, fmt.Errorf("%w: %d records read, %d when measured", ErrSourceChanged, i, rw.records)
	}
	created := rw.opts.Created
	if created == 0 {
		created = time.Now().UnixNano()
	}
	return w.Finish(created)
}

// finishSwap makes the rename durable, then removes the rest of the run
// and makes that durable. It returns the names removed.
func (rw *rewriter) finishSwap() ([]string, error) {
	if err := rw.fs.SyncDir(); err != nil {
		return nil, err
	}
	var removed []string
	for _, s := range rw.run[1:] {
		if err := rw.fs.Remove(s.Name); err != nil {
			return removed, err
		}
		removed = append(removed, s.Name)
	}
	if len(removed) == 0 {
		return removed, nil
	}
	return removed, rw.fs.SyncDir()
}
