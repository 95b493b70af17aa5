package recovery

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// DefaultIndexName is the name of the index file in a store directory, as
// the engine names it.
const DefaultIndexName = "index"

const (
	defaultMaxProblems = 100
	// maxProgressStep bounds the bytes between Progress calls (a 200th of
	// the total otherwise): often enough for a progress line, rare enough
	// to cost nothing.
	maxProgressStep = 4 << 20
)

// VerifyOptions configure Verify. A nil *VerifyOptions means defaults.
type VerifyOptions struct {
	// Progress, when set, is called on Verify's goroutine with the segment
	// bytes checked so far and the total, every few MiB and once at the end.
	Progress func(done, total int64)
	// MaxProblems caps the problems listed in the report (default 100);
	// further ones are only counted, so a badly damaged store cannot make
	// Verify hold a list as long as the log.
	MaxProblems int
	// IndexName is the index file (default DefaultIndexName).
	IndexName string
	// MaxMappedSegments caps the segments mapped at once (default:
	// DefaultVerifyMappedSegments). Verify maps a segment when it reads it
	// and unmaps the least recently read one past the cap, so that a store
	// larger than a 32-bit address space can be verified.
	MaxMappedSegments int
	// MaxMappedBytes caps the bytes of the segments mapped at once in the
	// same way (default: DefaultVerifyMappedBytes): segments may be up to
	// 1 GiB, and a count alone lets a few large ones exhaust a 32-bit
	// address space. One segment is always mapped, whatever its size.
	MaxMappedBytes int64
}

// DefaultVerifyMappedSegments is 16 on 32-bit platforms (256 MiB of
// default-sized segments there) and practically unlimited on 64-bit ones.
const DefaultVerifyMappedSegments = 16 << (bits.UintSize / 64 * 24)

// DefaultVerifyMappedBytes is 512 MiB on 32-bit platforms (the engine's
// default cap of mapped segment bytes there) and practically unlimited on
// 64-bit ones.
const DefaultVerifyMappedBytes = int64(512<<20) << (bits.UintSize / 64 * 30)

// VerifyReport is what Verify found. Problems are damage: each is a
// *segment.CorruptionError naming the file (a segment, or the index) and
// the byte offset in it. Notes are states that are not damage but explain
// why something was not checked or what the next Open will do.
type VerifyReport struct {
	Segments     int    // segment files
	FileBytes    int64  // their total size
	Records      int64  // records of complete batches that verify
	Bytes        int64  // bytes those records take in the log, padding included
	Streams      int    // distinct streams among them
	LogEnd       uint64 // log position just past the last record
	TornBytes    int64  // unacknowledged bytes after the end, which the next Open cuts
	IndexDirty   bool   // the index was not closed cleanly: agreement not checked
	IndexChecked bool   // every index entry was compared with the log
	IndexEntries int    // entries compared
	Notes        []string
	Problems     []error
	MoreProblems int // problems found beyond VerifyOptions.MaxProblems
}

// OK reports whether no problem was found.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 && r.MoreProblems == 0 }

// Verify checks the whole store in dir without changing it: every segment
// header and record checksum, that each segment continues the log where
// the previous one ends, every stream's chain (back-pointers, contiguous
// versions, skip pointers where the format puts them), and, when the index
// was closed cleanly, that it agrees with the log. It takes the directory
// lock, so it fails with mmapfile.ErrLocked while a store has it open.
//
// The log is read once, forward. Memory is the per-stream state (a
// fingerprint and the newest record's position and version) plus the
// problem list, never the records: in log order, each record's back-pointer
// must be the position of its stream's previous record and its version
// that record's plus one. Skip pointers land on older records, read back
// where they lead (usually still in the page cache). Streams are told
// apart by their 128-bit fingerprints, not their IDs, to keep that state
// small: two IDs with one fingerprint, which the engine tolerates (it
// checks the record an index slot leads to), would be reported here as
// broken chains. Among a billion streams whose IDs were not chosen to
// collide (the hashes are not cryptographic), the odds of any such pair
// are below 1 in 10^20.
//
// Damage does not stop the scan: the problem is recorded and the scan
// resumes at the next record that verifies in place. Chains leading into
// unreadable bytes are not reported again. The returned error is for
// failures to check at all (no store, locked, unreadable directory, a file
// the operating system would not open or map, such as EMFILE or ENOMEM:
// see osRefused); damage goes into the report.
func Verify(dir string, opts *VerifyOptions) (VerifyReport, error) {
	var o VerifyOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxProblems <= 0 {
		o.MaxProblems = defaultMaxProblems
	}
	if o.IndexName == "" {
		o.IndexName = DefaultIndexName
	}
	if o.MaxMappedSegments <= 0 {
		o.MaxMappedSegments = DefaultVerifyMappedSegments
	}
	if o.MaxMappedBytes <= 0 {
		o.MaxMappedBytes = DefaultVerifyMappedBytes
	}
	fsys, names, lock, err := openStoreDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		return VerifyReport{}, err
	}
	defer lock.Close()
	rep, err := verifyStore(readOnlyFS{fsys}, names, o)
	if err != nil {
		return rep, fmt.Errorf("recovery: verify %s: %w", dir, err)
	}
	return rep, nil
}

// verifyStore is Verify of the locked store in fsys, whose segments are
// names, with o complete.
func verifyStore(fsys mmapfile.FS, names []segName, o VerifyOptions) (VerifyReport, error) {
	v := &verifier{opts: o, fsys: fsys, heads: make(map[hashindex.Fingerprint]chainHead)}
	defer v.close()
	if err := v.openSegments(fsys, names); err != nil {
		return v.rep, err
	}
	// After a refusal (v.err) the checks that follow would judge the
	// store by a part of it, and report damage that is not there.
	for _, check := range []func(){
		func() { v.guard(o.IndexName, func() error { v.openIndex(fsys); return nil }) },
		v.scanLog,
		func() { v.guard("", func() error { v.checkGaps(); return nil }) },
		func() { v.guard(o.IndexName, func() error { v.checkIndex(); return nil }) },
	} {
		if check(); v.err != nil {
			return v.rep, v.err
		}
	}
	v.rep.Streams = len(v.heads)
	if o.Progress != nil {
		o.Progress(v.total, v.total)
	}
	return v.rep, nil
}

// verifier is the state of one Verify.
type verifier struct {
	opts  VerifyOptions
	rep   VerifyReport
	segs  []vseg
	heads map[hashindex.Fingerprint]chainHead
	lost  []lostSpan // log ranges whose records could not be read, sorted
	ix    *hashindex.Index
	// checkpoint is the index's checkpoint, clean or not: a position known
	// durable, which tells damage from a torn tail (as Rebuild does).
	checkpoint uint64

	sc   segment.Scanner
	peek segment.Record
	// compactedFrom is the first compacted segment's base (MaxUint64 when
	// there is none): records after it may follow ones compaction removed.
	compactedFrom uint64

	// fsys maps segments on demand; mapped counts those mapped now, and
	// clock orders their uses (see mapSegment).
	fsys        mmapfile.FS
	mapped      int
	mappedBytes int64
	clock       uint64

	total, segDone, reported, step int64 // progress

	// err is the first failure that is not the store's (see osRefused):
	// Verify returns it.
	err error
}

// vseg is one segment file. file and data are set while it is mapped
// (see mapSegment).
type vseg struct {
	name   string
	base   uint64
	size   int64
	usable bool // the file could be mapped and its header verifies
	used   bool // its first record header is not zero, or it is compacted
	// compacted: a compacted segment covering [base, end), read through
	// its header (hdr) and position map (pmap, loaded with the mapping).
	compacted bool
	end       uint64
	hdr       segment.Header
	pmap      segment.PositionMap

	file    mmapfile.File
	data    []byte
	lastUse uint64
	pinned  bool // being scanned: its records are in use
}

// lostSpan is a range [lo, hi) of log positions.
type lostSpan struct{ lo, hi uint64 }

func (v *verifier) close() {
	if v.ix != nil {
		_ = v.ix.Close()
	}
	for i := range v.segs {
		v.unmap(&v.segs[i])
	}
}

// mapSegment maps s (usable) if it is not mapped, unmapping the least
// recently used unpinned segments while MaxMappedSegments are mapped or s
// would take the mapped bytes past MaxMappedBytes. The
// data of a segment mapped before may be gone after a call, unless it is
// pinned.
func (v *verifier) mapSegment(s *vseg) ([]byte, error) {
	v.clock++
	s.lastUse = v.clock
	if s.file != nil {
		return s.data, nil
	}
	for v.mapped >= v.opts.MaxMappedSegments || (v.mapped > 0 && v.mappedBytes+s.size > v.opts.MaxMappedBytes) {
		var victim *vseg
		for i := range v.segs {
			o := &v.segs[i]
			if o.file != nil && !o.pinned && (victim == nil || o.lastUse < victim.lastUse) {
				victim = o
			}
		}
		if victim == nil {
			break // all pinned: map one more
		}
		v.unmap(victim)
	}
	f, err := v.fsys.Open(s.name)
	if err != nil {
		return nil, err
	}
	if f.Size() != s.size {
		_ = f.Close()
		return nil, fmt.Errorf("segment file %s changed size from %d to %d during Verify", s.name, s.size, f.Size())
	}
	if s.compacted {
		pm, err := segment.LoadPositionMap(f.Bytes(), s.hdr)
		if err != nil {
			_ = f.Close()
			return nil, segment.WithSegment(err, s.name)
		}
		s.pmap = pm
	}
	s.file, s.data = f, f.Bytes()
	v.mapped++
	v.mappedBytes += s.size
	return s.data, nil
}

func (v *verifier) unmap(s *vseg) {
	if s.file != nil {
		_ = s.file.Close()
		s.file, s.data, s.pmap = nil, nil, segment.PositionMap{}
		v.mapped--
		v.mappedBytes -= s.size
	}
}

// problem records a piece of damage.
func (v *verifier) problem(err error) {
	if len(v.rep.Problems) < v.opts.MaxProblems {
		v.rep.Problems = append(v.rep.Problems, err)
	} else {
		v.rep.MoreProblems++
	}
}

func (v *verifier) corrupt(file string, off int64, format string, args ...any) {
	v.problem(&segment.CorruptionError{Segment: file, Offset: off, Reason: fmt.Sprintf(format, args...)})
}

func (v *verifier) note(format string, args ...any) {
	v.rep.Notes = append(v.rep.Notes, fmt.Sprintf(format, args...))
}

// guard runs fn inside mmapfile.Guard; a memory fault (a file truncated
// underneath, an unreadable page) becomes a problem in file, not a crash.
func (v *verifier) guard(file string, fn func() error) {
	err := mmapfile.Guard(fn)
	if fe, ok := err.(*mmapfile.FaultError); ok {
		v.corrupt(fe.File, fe.Offset, "memory fault reading the mapped file (truncated or unreadable)")
	} else if err != nil {
		v.corrupt(file, 0, "%v", err)
	}
}

// openSegments maps every segment and checks its header. An unusable
// segment is a problem and its whole range is lost for the chain checks.
func (v *verifier) openSegments(fsys mmapfile.FS, names []segName) error {
	for i, n := range names {
		s := vseg{name: n.name, base: n.base}
		f, err := fsys.Open(n.name)
		if err != nil && osRefused(err) {
			return fmt.Errorf("cannot open %s: %w", n.name, err)
		}
		if err != nil {
			v.corrupt(n.name, 0, "cannot map the segment: %v", err)
		} else {
			s.size = f.Size()
			v.total += f.Size()
			v.rep.FileBytes += f.Size()
			v.guard(n.name, func() error {
				h, err := segment.ReadHeader(f.Bytes(), f.Size())
				switch {
				case err != nil:
					v.problem(segment.WithSegment(err, n.name))
				case h.Base != n.base:
					v.corrupt(n.name, 16, "header base %d does not match the file name (base %d)", h.Base, n.base)
				default:
					s.usable = true
					s.used = h.Compacted() || !segment.IsEnd(f.Bytes()[segment.HeaderSize:])
					s.compacted, s.end, s.hdr = h.Compacted(), h.End, h
				}
				return nil
			})
			_ = f.Close() // mapped again when read (mapSegment)
		}
		if !s.usable {
			hi := segment.MaxPosition
			if i+1 < len(names) {
				hi = names[i+1].base
			}
			v.addLost(n.base, hi)
		}
		v.segs = append(v.segs, s)
	}
	v.rep.Segments = len(v.segs)
	v.step = min(max(v.total/200, 1), maxProgressStep)
	v.compactedFrom = math.MaxUint64
	for _, s := range v.segs {
		if s.compacted {
			v.compactedFrom = s.base
			break
		}
	}
	return nil
}

// addLost marks [lo, hi) as unreadable.
func (v *verifier) addLost(lo, hi uint64) {
	if hi <= lo {
		return
	}
	i, _ := slices.BinarySearchFunc(v.lost, lo, func(s lostSpan, p uint64) int { return cmp.Compare(s.lo, p) })
	v.lost = slices.Insert(v.lost, i, lostSpan{lo, hi})
}

// isLost reports whether pos lies in bytes that could not be read, so that
// a pointer to it is explained by damage already reported, or in a
// compacted segment that holds no record there, so that compaction
// removed it.
func (v *verifier) isLost(pos uint64) bool {
	if v.compactedAway(pos) {
		return true
	}
	i, _ := slices.BinarySearchFunc(v.lost, pos, func(s lostSpan, p uint64) int { return cmp.Compare(s.lo, p) })
	// Spans may overlap; any starting at or before pos may hold it.
	for j := min(i, len(v.lost)-1); j >= 0; j-- {
		if s := v.lost[j]; s.lo <= pos && pos < s.hi {
			return true
		}
	}
	return false
}

// compactedAway reports whether pos lies in a compacted segment's range
// where the segment holds no record: compaction removed it.
func (v *verifier) compactedAway(pos uint64) bool {
	if s, ok := v.segmentOf(pos); ok && s.compacted && pos < s.end {
		if _, err := v.mapSegment(s); err != nil {
			if osRefused(err) {
				v.refused(s.name, err)
			}
		} else {
			if _, found := s.pmap.Find(pos); !found {
				return true
			}
		}
	}
	return false
}

// checkGaps reports, after the scan, the streams that lost records to
// compaction without having a system record (see unexplainedGap).
func (v *verifier) checkGaps() {
	var at []uint64
	for _, h := range v.heads {
		if h.c.unexplainedGap() {
			at = append(at, h.c.gapRecord)
		}
	}
	slices.Sort(at) // reported in log order, the same every run
	for _, pos := range at {
		if s, off, ok := v.locate(pos); ok {
			if _, err := segment.Peek(s.data, off, pos, &v.peek); err == nil {
				v.corrupt(s.name, off, "%s", gapReason(v.peek.Stream))
			}
		}
	}
}

// locate returns the usable segment whose space holds pos, mapped, and
// the file offset of pos in it. Its data stays mapped until the next
// locate or mapSegment.
func (v *verifier) locate(pos uint64) (*vseg, int64, bool) {
	s, ok := v.segmentOf(pos)
	if !ok {
		return nil, 0, false
	}
	off := int64(pos-s.base) + segment.HeaderSize
	if !s.compacted && off >= s.size {
		return nil, 0, false
	}
	if _, err := v.mapSegment(s); err != nil {
		if osRefused(err) {
			v.refused(s.name, err)
		}
		return nil, 0, false
	}
	if s.compacted {
		if off, ok = s.pmap.Find(pos); !ok {
			return nil, 0, false
		}
	}
	return s, off, true
}

// segmentOf returns the usable segment whose range may hold pos.
func (v *verifier) segmentOf(pos uint64) (*vseg, bool) {
	i, found := slices.BinarySearchFunc(v.segs, pos, func(s vseg, p uint64) int { return cmp.Compare(s.base, p) })
	if !found {
		i--
	}
	if i < 0 || !v.segs[i].usable {
		return nil, false
	}
	return &v.segs[i], true
}

// progressAt reports progress when enough bytes have passed.
func (v *verifier) progressAt(done int64) {
	if v.opts.Progress == nil || done-v.reported < v.step {
		return
	}
	v.reported = done
	v.opts.Progress(done, v.total)
}
