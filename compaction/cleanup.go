package compaction

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// CleanupReport tells what Cleanup found and did.
type CleanupReport struct {
	// RolledBack lists the temp files of compactions interrupted before
	// their rename, removed.
	RolledBack []string
	// RolledForward lists the segments that a compacted segment had
	// already replaced when a compaction was interrupted, removed.
	RolledForward []string
	// Compacted counts the compacted segments in the directory.
	Compacted int
}

// Cleanup finishes or rolls back compactions that a crash interrupted. A
// store runs it when it opens, holding the directory lock, before it lists
// its segments:
//
//   - a temp file (TempName) is the work of a Rewrite whose rename never
//     happened: the segments it was built from are all still there, so it
//     is removed (roll back);
//   - a segment file whose base lies strictly inside the range of a
//     compacted segment was replaced by it, and the crash came before its
//     removal was durable: it is removed (roll forward).
//
// The directory is synced when anything was removed. Cleanup is
// idempotent, and a crash inside it leaves a state it finishes next time.
// It reads every segment's header first and removes nothing unless all of
// them verify: a header that does not might be a compacted segment's,
// whose range decides what else is stale. Such a header is reported as
// the *segment.CorruptionError naming the file and offset.
func Cleanup(fsys mmapfile.FS) (CleanupReport, error) {
	var rep CleanupReport
	names, err := fsys.List()
	if err != nil {
		return rep, fmt.Errorf("compaction: cleanup: %w", err)
	}
	var temps []string
	var segs []header
	for _, name := range names {
		if _, ok := parseTempName(name); ok {
			temps = append(temps, name)
			continue
		}
		base, ok := segment.ParseFileName(name)
		if !ok {
			continue
		}
		h, err := readHeader(fsys, name, base)
		if err != nil {
			// Not prefixed: a damaged or short segment is no fault of a
			// compaction's, and the error names the file already.
			return rep, err
		}
		segs = append(segs, header{name, h})
		if h.Compacted() {
			rep.Compacted++
		}
	}
	stale, err := covered(segs)
	if err != nil {
		return rep, fmt.Errorf("compaction: cleanup: %w", err)
	}
	for _, name := range temps {
		if err := fsys.Remove(name); err != nil {
			return rep, fmt.Errorf("compaction: cleanup: %w", err)
		}
		rep.RolledBack = append(rep.RolledBack, name)
	}
	for _, name := range stale {
		if err := fsys.Remove(name); err != nil {
			return rep, fmt.Errorf("compaction: cleanup: %w", err)
		}
		rep.RolledForward = append(rep.RolledForward, name)
	}
	if len(temps)+len(stale) > 0 {
		if err := fsys.SyncDir(); err != nil {
			return rep, fmt.Errorf("compaction: cleanup: %w", err)
		}
	}
	return rep, nil
}

type header struct {
	name string
	segment.Header
}

// readHeader reads and checks the header of the segment file name, whose
// name says it starts at base. It copies the header out (pread) rather
// than touching the mapping: no memory fault to guard against.
func readHeader(fsys mmapfile.FS, name string, base uint64) (segment.Header, error) {
	f, err := fsys.Open(name)
	if errors.Is(err, mmapfile.ErrEmptyFile) {
		// A file of 0 bytes cannot be mapped; as a segment it is just
		// shorter than its header (a crash before its size was durable).
		_, err = segment.ReadHeader(nil, 0)
		return segment.Header{}, segment.WithSegment(err, name)
	}
	if err != nil {
		return segment.Header{}, fmt.Errorf("reading the header of %s: %w", name, err)
	}
	defer f.Close()
	var b [segment.HeaderSize]byte
	n := min(f.Size(), segment.HeaderSize)
	if _, err := f.ReadAt(b[:n], 0); err != nil {
		return segment.Header{}, fmt.Errorf("reading the header of %s: %w", name, err)
	}
	h, err := segment.ReadHeader(b[:n], f.Size())
	if err == nil && h.Base != base {
		err = &segment.CorruptionError{Offset: 16, Reason: fmt.Sprintf("header base %d does not match the file name", h.Base)}
	}
	return h, segment.WithSegment(err, name)
}

// covered returns the names of the segments (sorted by base) whose base
// lies strictly inside a compacted segment's range.
func covered(segs []header) ([]string, error) {
	var stale []string
	for i := 0; i < len(segs); i++ {
		c := segs[i]
		if !c.Compacted() {
			continue
		}
		for j := i + 1; j < len(segs) && segs[j].Base < c.End; j++ {
			s := segs[j]
			if s.Compacted() && s.End > c.End {
				return nil, fmt.Errorf("%w: %s covers [%d, %d), %s covers [%d, %d)",
					ErrOverlap, c.name, c.Base, c.End, s.name, s.Base, s.End)
			}
			if !slices.Contains(stale, s.name) {
				stale = append(stale, s.name)
			}
		}
	}
	return stale, nil
}

// parseTempName returns the base of a Rewrite's temp file name.
func parseTempName(name string) (uint64, bool) {
	seg, ok := strings.CutSuffix(name, tempSuffix)
	if !ok {
		return 0, false
	}
	return segment.ParseFileName(seg)
}
