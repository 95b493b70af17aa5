package recovery

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// BrokenSuffix is appended to the name of a segment that Truncate saves
// aside. Such files are not segments (segment.ParseFileName rejects them),
// so Open and Verify ignore them; they are kept for forensics or a manual
// salvage, and deleted by hand.
const BrokenSuffix = ".broken"

// TruncatePlan says where Truncate cuts the log and what the cut loses.
type TruncatePlan struct {
	Segment string // the damaged segment
	Damage  int64  // file offset of the damage, as reported
	// Offset is the file offset where the log is cut: the end of the last
	// complete batch before the damage. 0 means the whole segment goes,
	// and Whole says why (WholeHeader, WholeCompacted).
	Offset int64
	Whole  string
	// NewSegment, when set, is an empty segment of NewSegmentSize bytes
	// that the cut creates at Position, after the moves: the log must not
	// end in a compacted segment (Open refuses that: one is never written
	// to), and it would. Extend says that the named segment is such a
	// compacted segment, ending the log already (a cut stopped before it
	// created the new one): nothing is cut then.
	NewSegment     string
	NewSegmentSize int64
	Extend         bool
	Position       uint64   // log position of the cut: where the log will end
	Later          []string // later segments, which go whole
	Records        int      // records after the cut that still verify
	Bytes          int64    // bytes after the cut, to the last nonzero byte of each file
	Saved          []string // the .broken files holding everything cut away
}

// Why a cut takes a whole segment (TruncatePlan.Whole).
const (
	WholeHeader    = "its header is damaged"
	WholeCompacted = "it is compacted: a cut inside it would lose the position map that locates its records"
)

// errPlanStop ends a scan early; it never leaves this file.
var errPlanStop = errors.New("stop")

// PlanTruncate works out, without changing anything, what Truncate would
// cut for damage reported at file offset off of segment seg (the Segment
// and Offset of the *segment.CorruptionError that Open returned).
func PlanTruncate(dir, seg string, off int64) (TruncatePlan, error) {
	fsys, segs, lock, err := openStoreDir(dir, mmapfile.PrepFallocate)
	if err != nil {
		return TruncatePlan{}, err
	}
	defer lock.Close()
	p, err := planTruncate(readOnlyFS{fsys}, segs, seg, off)
	if err != nil {
		return p, fmt.Errorf("recovery: plan truncate %s: %w", dir, err)
	}
	return p, nil
}

// Truncate cuts the log of the store in dir at damage reported at file
// offset off of segment seg, so that the next Open succeeds with the log
// before it. Nothing is destroyed: the damaged segment is first copied to
// "<seg>.broken" (or moved there when its header is damaged), and later
// segments are moved to "<name>.broken"; each step is synced before the
// next. Then the index is removed (the next Open rebuilds it) and the
// damaged segment is zeroed from the cut on. A compacted segment is never
// cut inside (its position map would go): it goes whole. When the log
// would end in a compacted segment, an empty segment is created after it,
// as Open needs one that is written to. A crash part way leaves a
// directory that Open still refuses or a completed cut, and Truncate can
// be run again. It returns the plan it carried out.
func Truncate(dir, seg string, off int64) (TruncatePlan, error) {
	fsys, segs, lock, err := openStoreDir(dir, mmapfile.PrepFallocate)
	if err != nil {
		return TruncatePlan{}, err
	}
	defer lock.Close()
	p, err := planTruncate(fsys, segs, seg, off)
	if err == nil {
		err = mmapfile.Guard(func() error { return applyCut(fsys, &p) })
	}
	if err != nil {
		return p, fmt.Errorf("recovery: truncate %s: %w", dir, err)
	}
	return p, nil
}

// applyCut carries out p.
func applyCut(fsys mmapfile.FS, p *TruncatePlan) error {
	// The copy first: until it is durable nothing else may change.
	if p.Offset > 0 {
		if err := copyAside(fsys, p.Segment); err != nil {
			return err
		}
	}
	// Next the index, before any record goes: its checkpoint lies past
	// the cut, where the records it promises durable are no more.
	if err := removeIndexFile(fsys); err != nil {
		return err
	}
	if p.Extend {
		if err := fsys.SyncDir(); err != nil {
			return err
		}
		return createEmptySegment(fsys, p.NewSegment, p.Position, p.NewSegmentSize)
	}
	later := slices.Clone(p.Later)
	slices.Reverse(later) // newest first: what remains is always a prefix
	if p.Offset == 0 {
		later = append(later, p.Segment)
	}
	for _, name := range later {
		if err := moveAside(fsys, name); err != nil {
			return err
		}
	}
	if err := fsys.SyncDir(); err != nil {
		return err
	}
	p.Saved = nil
	if p.Offset > 0 {
		p.Saved = append(p.Saved, p.Segment+BrokenSuffix)
	}
	for _, name := range p.Later {
		p.Saved = append(p.Saved, name+BrokenSuffix)
	}
	if p.Offset == 0 {
		p.Saved = append(p.Saved, p.Segment+BrokenSuffix)
		if p.NewSegment != "" {
			return createEmptySegment(fsys, p.NewSegment, p.Position, p.NewSegmentSize)
		}
		return nil
	}
	f, err := fsys.Open(p.Segment)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = zeroTail(f, p.Offset, p.Offset, f.Size()) // syncs what it zeroes
	return err
}

// removeIndexFile removes the index, if any; the caller syncs the
// directory.
func removeIndexFile(fsys mmapfile.FS) error {
	names, err := fsys.List()
	if err != nil || !slices.Contains(names, DefaultIndexName) {
		return err
	}
	return fsys.Remove(DefaultIndexName)
}

// createEmptySegment creates segment name, starting the log at position
// base, as the engine creates one: a crash leaves it whole or absent.
func createEmptySegment(fsys mmapfile.FS, name string, base uint64, size int64) error {
	err := createDurably(fsys, name, size, func(b []byte) {
		segment.PutHeader(b, segment.Header{Base: base, Size: uint64(size), Created: time.Now().UnixNano()})
	})
	if err != nil {
		return fmt.Errorf("create segment %s: %w", name, err)
	}
	return nil
}

// copyAside copies segment name to name.broken durably. An identical copy
// from an interrupted earlier run is kept.
func copyAside(fsys mmapfile.FS, name string) error {
	dst := name + BrokenSuffix
	src, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	if same, err := sameAs(fsys, dst, src.Bytes()); err != nil || same {
		return err
	}
	if err := createDurably(fsys, dst, src.Size(), func(b []byte) { copy(b, src.Bytes()) }); err != nil {
		return fmt.Errorf("copy %s aside: %w", name, err)
	}
	return nil
}

// createDurably creates file name of size bytes, filled by fill, through a
// scratch file that is synced, renamed and the directory synced: a crash
// never leaves a partial file under the final name. A scratch file left by
// an interrupted earlier run is replaced.
func createDurably(fsys mmapfile.FS, name string, size int64, fill func([]byte)) error {
	tmp := name + ".tmp"
	if names, err := fsys.List(); err != nil {
		return err
	} else if slices.Contains(names, tmp) {
		if err := fsys.Remove(tmp); err != nil {
			return err
		}
	}
	f, err := fsys.Create(tmp, size)
	if err != nil {
		return err
	}
	fill(f.Bytes())
	err = f.Sync(0, f.Size())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, name)
	}
	if err == nil {
		err = fsys.SyncDir()
	}
	return err
}

// moveAside renames segment name to name.broken; the caller syncs the
// directory. An identical name.broken (an interrupted earlier run) makes
// the segment redundant.
func moveAside(fsys mmapfile.FS, name string) error {
	dst := name + BrokenSuffix
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, mmapfile.ErrEmptyFile) {
			return fsys.Rename(name, dst) // nothing to compare
		}
		return err
	}
	same, err := sameAs(fsys, dst, f.Bytes())
	f.Close()
	switch {
	case err != nil:
		return err
	case same:
		return fsys.Remove(name)
	}
	return fsys.Rename(name, dst)
}

// sameAs reports whether file name exists with exactly the bytes b. It
// fails with ErrBrokenExists when name exists with other bytes.
func sameAs(fsys mmapfile.FS, name string, b []byte) (bool, error) {
	names, err := fsys.List()
	if err != nil || !slices.Contains(names, name) {
		return false, err
	}
	f, err := fsys.Open(name)
	if err != nil {
		return false, fmt.Errorf("%w: %s: %w", ErrBrokenExists, name, err)
	}
	defer f.Close()
	if !bytes.Equal(f.Bytes(), b) {
		return false, fmt.Errorf("%w: %s", ErrBrokenExists, name)
	}
	return true, nil
}
