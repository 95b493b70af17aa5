package simfs

import (
	"fmt"

	"github.com/spooldb/spool/mmapfile"
)

// file is one open handle; several may share an inode.
type file struct {
	fs     *FS
	ino    *inode
	closed bool // guarded by fs.mu
}

var _ mmapfile.File = (*file)(nil)

func (f *file) Name() string {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.ino.name
}

// Bytes is the live image. It stays the same slice for the file's life, and
// after a crash too: stores to it then change nothing that survives.
func (f *file) Bytes() []byte {
	if f.ino.shown != nil {
		return f.ino.shown
	}
	return f.ino.live
}

func (f *file) Size() int64 { return int64(len(f.ino.live)) }

// check starts an operation on the file. Called with fs.mu held.
func (f *file) check(op Op, off, n int64) error {
	if err := f.fs.begin(op, f.ino.name); err != nil {
		return err
	}
	if f.closed {
		return fmt.Errorf("simfs: %v %s: %w", op, f.ino.name, mmapfile.ErrClosed)
	}
	if off < 0 || n < 0 || n > int64(len(f.ino.live))-off {
		return fmt.Errorf("%w: %v %d bytes at %d of %s (%d bytes)", mmapfile.ErrInvalidRange, op, n, off, f.ino.name, len(f.ino.live))
	}
	return nil
}

// WriteAt stores p into the live image, as pwrite does into the page cache.
func (f *file) WriteAt(p []byte, off int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(OpWriteAt, off, int64(len(p))); err != nil {
		return err
	}
	snapshot(f.ino.live[off:], p)
	return nil
}

// ReadAt copies from the live image, as pread does from the page cache.
// Like Bytes, it touches no storage: it is not counted and never fails by
// injection.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("simfs: read %s: %w", f.ino.name, mmapfile.ErrClosed)
	}
	if off < 0 || int64(len(p)) > int64(len(f.ino.live))-off {
		return 0, fmt.Errorf("%w: read %d bytes at %d of %s (%d bytes)", mmapfile.ErrInvalidRange, len(p), off, f.ino.name, len(f.ino.live))
	}
	snapshot(p, f.ino.live[off:]) // a kernel read, unseen by the race detector
	return len(p), nil
}

// Sync writes the dirty pages covering [off, off+n) to the device. An
// injected failure leaves each of them durable, lost or torn at random and
// marks them clean all the same, as Linux does after a failed write-back:
// a retried Sync then succeeds without writing them.
func (f *file) Sync(off, n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(OpSync, off, n); err != nil {
		if isInjected(err) {
			f.fs.failPages(f.ino, off, n)
		}
		return err
	}
	if n == 0 {
		return nil
	}
	ino := f.ino
	for _, p := range ino.dirtyPages(int(off/PageSize), int((off+n+PageSize-1)/PageSize)) {
		ino.writeBack(p)
	}
	return nil
}

// Advise is a hint; the simulation has no read-ahead to tune.
func (f *file) Advise(off, n int64, advice mmapfile.Advice) {}

// Close ends the handle. The contents stay, for other handles and for
// Open.
func (f *file) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.begin(OpClose, f.ino.name); err != nil {
		f.closed = true
		return err
	}
	if f.closed {
		return fmt.Errorf("simfs: close %s: %w", f.ino.name, mmapfile.ErrClosed)
	}
	f.closed = true
	return nil
}
