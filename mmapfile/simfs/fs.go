package simfs

import (
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/spooldb/spool/mmapfile"
)

// Config sets up a new FS.
type Config struct {
	// Seed makes every random choice of the FS (write-back, failed syncs,
	// the FS that Crash returns) repeatable for the same sequence of calls.
	Seed uint64
	// WriteBack is the probability, at each storage operation, that the
	// simulated flusher first writes one random dirty page to the device.
	// Pages reach the device early and out of order, as after a real
	// kernel's write-back: a crash can then find an old version of a page
	// that was written again later. 0 turns it off.
	WriteBack float64
	// DirPrefix makes a crash keep a prefix of the directory operations
	// since the last SyncDir (a journaling file system commits them in
	// order), instead of keeping or reverting each one independently.
	DirPrefix bool
	// Name describes the FS in messages (Path); "sim" by default.
	Name string
	// Faultable backs the images of files created from now on with real
	// memory mappings (a memfd mapped twice; Linux only), so that
	// FaultPage can make a page fault when the program touches it.
	Faultable bool
}

// FS is a simulated directory of mapped files that can lose power. It
// implements mmapfile.FS; all its methods are safe for concurrent use (one
// mutex guards everything).
type FS struct {
	mu  sync.Mutex
	cfg Config
	rng *rand.Rand

	live    map[string]*inode // the directory the program sees
	durable map[string]*inode // the directory on the device (as of the last SyncDir)
	pending []dirOp           // directory changes since the last SyncDir
	inodes  []*inode          // every file made or opened here, for write-back and freezing

	locked bool

	ops      int64 // storage operations so far
	freezeAt int64 // freeze once ops passes this (0: never)
	frozen   bool
	fail     [numOps]int64 // per op: fail the call when the count reaches this
	count    [numOps]int64 // per op: calls so far
	stats    Stats
	origin   CrashReport // how this FS came out of a crash
}

// dirOp is one directory change not yet made durable by SyncDir.
type dirOp struct {
	kind    Op // OpCreate, OpRename or OpRemove
	name    string
	newName string // OpRename
	ino     *inode
}

// New returns an empty FS.
func New(cfg Config) *FS {
	if cfg.Name == "" {
		cfg.Name = "sim"
	}
	return &FS{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		live:    make(map[string]*inode),
		durable: make(map[string]*inode),
	}
}

var _ mmapfile.FS = (*FS)(nil)

// begin accounts for one storage operation and decides its fate: nil to go
// on, or the error it must return. Called with fs.mu held.
func (fs *FS) begin(op Op, what string) error {
	if fs.frozen {
		return fmt.Errorf("simfs: %v %s: %w", op, what, ErrCrashed)
	}
	if fs.freezeAt > 0 && fs.ops >= fs.freezeAt {
		fs.freezeLocked()
		return fmt.Errorf("simfs: %v %s: %w", op, what, ErrCrashed)
	}
	fs.ops++
	fs.count[op]++
	fs.stats.Ops[op]++
	if fs.cfg.WriteBack > 0 && fs.rng.Float64() < fs.cfg.WriteBack {
		fs.flushOne()
	}
	if fs.fail[op] > 0 && fs.count[op] == fs.fail[op] {
		fs.fail[op] = 0
		fs.stats.Injected++
		return fmt.Errorf("simfs: %v %s: %w: %w", op, what, ErrInjected, op.errno())
	}
	return nil
}

// Path describes the FS in messages.
func (fs *FS) Path() string { return fs.cfg.Name }

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return nil
}

// Create makes name as a new zero-filled file of size bytes. Like the real
// FS, which reserves and syncs the blocks before returning, the size and
// zeros are durable at once; the name is durable only after SyncDir.
func (fs *FS) Create(name string, size int64) (mmapfile.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if size <= 0 || size > 1<<40 {
		return nil, fmt.Errorf("%w: %d bytes for %s", mmapfile.ErrInvalidSize, size, name)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.begin(OpCreate, name); err != nil {
		return nil, err
	}
	if _, ok := fs.live[name]; ok {
		return nil, fmt.Errorf("simfs: create %s: %w", name, iofs.ErrExist)
	}
	ino := newInode(name, size)
	if fs.cfg.Faultable {
		if err := newFaultImage(ino, size); err != nil {
			return nil, err
		}
	}
	fs.inodes = append(fs.inodes, ino)
	fs.live[name] = ino
	fs.pending = append(fs.pending, dirOp{kind: OpCreate, name: name, ino: ino})
	return &file{fs: fs, ino: ino}, nil
}

// Open returns a new handle on the existing file name.
func (fs *FS) Open(name string) (mmapfile.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.begin(OpOpen, name); err != nil {
		return nil, err
	}
	ino, ok := fs.live[name]
	if !ok {
		return nil, fmt.Errorf("simfs: open %s: %w", name, iofs.ErrNotExist)
	}
	if len(ino.live) == 0 {
		return nil, fmt.Errorf("%w: %s", mmapfile.ErrEmptyFile, name)
	}
	return &file{fs: fs, ino: ino}, nil
}

// Rename replaces newName with oldName. Open handles of oldName take the
// new name; those of a replaced newName keep theirs.
func (fs *FS) Rename(oldName, newName string) error {
	if err := checkName(oldName); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.begin(OpRename, oldName+" to "+newName); err != nil {
		return err
	}
	ino, ok := fs.live[oldName]
	if !ok {
		return fmt.Errorf("simfs: rename %s to %s: %w", oldName, newName, iofs.ErrNotExist)
	}
	if oldName == newName {
		return nil
	}
	delete(fs.live, oldName)
	fs.live[newName] = ino
	ino.name = newName
	fs.pending = append(fs.pending, dirOp{kind: OpRename, name: oldName, newName: newName, ino: ino})
	return nil
}

// Remove deletes name; open handles stay valid.
func (fs *FS) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.begin(OpRemove, name); err != nil {
		return err
	}
	ino, ok := fs.live[name]
	if !ok {
		return fmt.Errorf("simfs: remove %s: %w", name, iofs.ErrNotExist)
	}
	delete(fs.live, name)
	fs.pending = append(fs.pending, dirOp{kind: OpRemove, name: name, ino: ino})
	return nil
}

// List returns the names in the directory, sorted.
func (fs *FS) List() ([]string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.begin(OpList, ""); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(fs.live))
	for name := range fs.live {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// SyncDir makes the directory as the program sees it durable.
func (fs *FS) SyncDir() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.begin(OpSyncDir, fs.cfg.Name); err != nil {
		// A failed directory sync may have made any part durable: the
		// pending changes stay pending, for the crash to decide.
		return err
	}
	fs.durable = make(map[string]*inode, len(fs.live))
	for name, ino := range fs.live {
		fs.durable[name] = ino
	}
	fs.pending = fs.pending[:0]
	return nil
}

// Lock takes the directory's exclusive lock, like flock: a second Lock
// before the first is released fails with mmapfile.ErrLocked.
func (fs *FS) Lock() (io.Closer, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.begin(OpLock, fs.cfg.Name); err != nil {
		return nil, err
	}
	if fs.locked {
		return nil, fmt.Errorf("%w: %s", mmapfile.ErrLocked, fs.cfg.Name)
	}
	fs.locked = true
	return &lock{fs: fs}, nil
}

type lock struct {
	fs       *FS
	released bool
}

// Close releases the lock. On a frozen FS it fails: the process that held
// the lock is gone with the power.
func (l *lock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.fs.frozen {
		return fmt.Errorf("simfs: unlock: %w", ErrCrashed)
	}
	if l.released {
		return mmapfile.ErrClosed
	}
	l.released = true
	l.fs.locked = false
	return nil
}
