package hashindex

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/spooldb/spool/mmapfile"
)

// Suffixes of the scratch files a Create or a growth builds before renaming
// them over the index. A crash can leave one behind; Create and Open remove
// them.
const (
	tmpSuffix  = ".tmp"
	growSuffix = ".grow"
)

// Index is an open index file. See the package documentation for which
// methods may run concurrently.
type Index struct {
	fs   mmapfile.FS
	name string

	// writeMu serialises the mutators (Put, Flush, Close). Holding it alone
	// is enough to read slots and to read or write the header: readers
	// touch neither the header bytes nor anything the writer is changing
	// unless they hold mu.
	writeMu sync.Mutex
	failed  error // sticky write-path failure, see fail; guarded by writeMu
	// slotsDirty records a slot store since the slots were last synced, so
	// that a Flush with nothing new skips the slot msync. Guarded by writeMu.
	slotsDirty bool

	// mu separates readers from changes they could observe: Lookup,
	// Validate, All and Slots hold it shared; slot stores, the table swap
	// of a growth and Close hold it exclusively.
	mu sync.RWMutex
	t  *table // nil once closed

	// Header values mirrored in memory so that Len, Checkpoint and Clean
	// need no lock and never touch the mapping.
	count      atomic.Uint64
	annotated  atomic.Uint64 // entries with a non-zero Aux
	checkpoint atomic.Uint64
	lastLen    atomic.Uint32
	clean      atomic.Bool
	slots      atomic.Uint64 // the table's slot count, 0 once closed

	// prepMu guards the file prepared for the next growth (see
	// PrepareGrowth). A growth holds it from taking that file until it
	// returns, and PrepareGrowth waits for the growth's tail, so a
	// preparation never makes the scratch file while a growth's file still
	// bears that name. Lock order: writeMu, then prepMu, then mu.
	prepMu        sync.Mutex
	prepared      mmapfile.File
	preparedSlots atomic.Uint64 // slots of prepared's table, 0 when none
	// prepFailedSlots is the table size whose preparation failed last.
	prepFailedSlots atomic.Uint64
	prepClosed      bool // set by Close: no more preparations

	growths, growthsPrepared atomic.Uint64 // see Growths

	// tail is the background part of the last growth while it may still
	// run (see grow); set and cleared under writeMu, read by
	// PrepareGrowth under prepMu.
	tail atomic.Pointer[growthTail]
}

// table is one mapped index file.
type table struct {
	file  mmapfile.File
	data  []byte
	slots uint64
	mask  uint64
}

func newTable(f mmapfile.File, slots uint64) *table {
	// Probes jump around the file: read-ahead would only waste I/O.
	f.Advise(HeaderSize, f.Size()-HeaderSize, mmapfile.AdviseRandom)
	return &table{file: f, data: f.Bytes(), slots: slots, mask: slots - 1}
}

// slot returns the bytes of slot i.
func (t *table) slot(i uint64) []byte {
	off := HeaderSize + i*SlotSize
	return t.data[off : off+SlotSize : off+SlotSize]
}

// slotOffset is the file offset of slot i, for error reports.
func slotOffset(i uint64) int64 { return HeaderSize + int64(i)*SlotSize }

// Create makes a new, empty index file called name with room for slots
// slots (rounded up to a power of two, at least MinSlots), replacing any
// existing file of that name. The file is built as name+".tmp", given its
// header, synced, renamed to name and the directory synced, so a crash
// leaves either the previous file or the complete new one. The new index is
// clean with checkpoint 0: it describes an empty log prefix.
func Create(fs mmapfile.FS, name string, slots uint64) (*Index, error) {
	n, err := roundSlots(slots)
	if err != nil {
		return nil, err
	}
	names, err := fs.List()
	if err != nil {
		return nil, fmt.Errorf("hashindex: create %s: %w", name, err)
	}
	if err := removeScratch(fs, names, name); err != nil {
		return nil, err
	}
	tmp := name + tmpSuffix
	f, err := fs.Create(tmp, fileSize(n))
	if err != nil {
		return nil, fmt.Errorf("hashindex: create %s: %w", name, err)
	}
	renamed, ok := false, false
	defer func() {
		// A deferred check rather than cleanup at each return, so that a
		// fault panic unwinding to the caller's Guard cleans up too.
		if !ok {
			_ = f.Close()
			if !renamed {
				_ = fs.Remove(tmp)
			}
		}
	}()
	h := header{slots: n, clean: true}
	encodeHeader(f.Bytes(), h)
	// The whole file, not just the header: this also makes the reserved
	// size durable before the name points at the file.
	if err := f.Sync(0, f.Size()); err != nil {
		return nil, fmt.Errorf("hashindex: create %s: %w", name, err)
	}
	if err := fs.Rename(tmp, name); err != nil {
		return nil, fmt.Errorf("hashindex: create %s: %w", name, err)
	}
	renamed = true
	if err := fs.SyncDir(); err != nil {
		return nil, fmt.Errorf("hashindex: create %s: %w", name, err)
	}
	ok = true
	return newIndex(fs, name, f, h), nil
}

// Open maps the existing index file name and checks its header: magic,
// format version, byte-order tag, header checksum, slot count (a power of
// two matching the file size exactly) and count (at most the slot count).
// Any mismatch returns an error wrapping ErrInvalid that names the file; the
// caller rebuilds the index from the log. Open does not read the slots (see
// Validate). A missing file returns an error wrapping os.ErrNotExist.
func Open(fs mmapfile.FS, name string) (*Index, error) {
	names, err := fs.List()
	if err != nil {
		return nil, fmt.Errorf("hashindex: open %s: %w", name, err)
	}
	if !slices.Contains(names, name) {
		return nil, fmt.Errorf("hashindex: open %s: %w", name, os.ErrNotExist)
	}
	if err := removeScratch(fs, names, name); err != nil {
		return nil, err
	}
	f, err := fs.Open(name)
	if err != nil {
		if errors.Is(err, mmapfile.ErrEmptyFile) {
			return nil, invalid(name, "file is empty")
		}
		return nil, fmt.Errorf("hashindex: open %s: %w", name, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
		}
	}()
	h, reason := decodeHeader(f.Bytes())
	if reason != "" {
		return nil, invalid(name, "%s", reason)
	}
	if h.slots > maxSlots {
		// Made on a 64-bit machine: this one could not grow it, nor map
		// the next size. A rebuild sizes a table for the streams the
		// log holds, which may still fit (see SlotsFor).
		return nil, invalid(name, "%d slots, the largest table here has %d", h.slots, maxSlots)
	}
	ok = true
	return newIndex(fs, name, f, h), nil
}

func newIndex(fs mmapfile.FS, name string, f mmapfile.File, h header) *Index {
	ix := &Index{fs: fs, name: name, t: newTable(f, h.slots)}
	ix.count.Store(h.count)
	ix.annotated.Store(h.annotated)
	ix.checkpoint.Store(h.checkpoint)
	ix.lastLen.Store(h.lastLen)
	ix.clean.Store(h.clean)
	ix.slots.Store(h.slots)
	return ix
}

// removeScratch deletes leftovers of an interrupted Create or growth. They
// are never valid indexes: the rename that would have published them did
// not happen.
func removeScratch(fs mmapfile.FS, names []string, name string) error {
	for _, s := range []string{name + tmpSuffix, name + growSuffix} {
		if slices.Contains(names, s) {
			if err := fs.Remove(s); err != nil {
				return fmt.Errorf("hashindex: remove stale %s: %w", s, err)
			}
		}
	}
	return nil
}

// Name is the index file's name.
func (ix *Index) Name() string { return ix.name }

// Len is the number of streams stored.
func (ix *Index) Len() int { return int(ix.count.Load()) }

// Slots is the current number of slots (a power of two); 0 after Close.
func (ix *Index) Slots() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.t == nil {
		return 0
	}
	return ix.t.slots
}

// Annotated is the number of entries whose Aux is not zero. A caller that
// keeps something in Aux for a few streams only can skip looking for them
// (All) when it is zero.
func (ix *Index) Annotated() int { return int(ix.annotated.Load()) }

// Checkpoint is the log position recorded in the header: the index reflects
// every record below it. It is the value found at Open or Create, or the
// one last passed to Flush.
func (ix *Index) Checkpoint() uint64 { return ix.checkpoint.Load() }

// CheckpointRecordLen is the length, padding included, of the log record
// that ends at the checkpoint, as the header records it: a caller can
// check that the checkpoint is where a record of the log ends before it
// trusts a clean index without reading it (an index whose checkpoint is
// ahead of the log's data, say from a stale copy, is not). Zero means not
// recorded: a checkpoint of 0, one taken while the index was dirty, or an
// index written before the field existed.
func (ix *Index) CheckpointRecordLen() uint32 { return ix.lastLen.Load() }

// Clean reports the header's clean-shutdown flag: as found at Open (true
// after Create), set by Flush(clean=true), cleared by the first Put after
// either and by Flush(clean=false).
func (ix *Index) Clean() bool { return ix.clean.Load() }

// Close unmaps the file. It writes no slot or header: call
// Flush(checkpoint, recordLen, true) first for a clean shutdown. It waits
// for a growth's tail (which renames the grown file over the index). Calls
// after Close fail with mmapfile.ErrClosed.
//
// A file prepared for the next growth is removed: it holds nothing.
func (ix *Index) Close() error {
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	// A growth's tail finishes first: it renames the file in use over the
	// index. Its failure is already sticky for Put and Flush; Close only
	// releases.
	_ = ix.waitGrowth()
	ix.prepMu.Lock()
	defer ix.prepMu.Unlock()
	ix.prepClosed = true
	var prepErr error
	if ix.prepared != nil {
		prepErr = ix.dropPreparedLocked()
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.t == nil {
		return ix.closedErr()
	}
	f := ix.t.file
	ix.t = nil
	ix.slots.Store(0)
	if err := f.Close(); err != nil {
		return fmt.Errorf("hashindex: close %s: %w", ix.name, err)
	}
	return prepErr
}

func (ix *Index) closedErr() error {
	return fmt.Errorf("hashindex: %s: %w", ix.name, mmapfile.ErrClosed)
}

func (ix *Index) corrupt(off int64, reason string) *CorruptionError {
	return &CorruptionError{File: ix.name, Offset: off, Reason: reason}
}
