//go:build linux || darwin

package mmapfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	mmap "github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// maxMapSize bounds a single mapping: a mapping of 2 GiB or more overflows
// int on 32-bit platforms (and mmap-go's Map with it).
const maxMapSize = int64(^uint(0)>>1) - (1 << 20)

// osFS is the real FS: a directory on a local file system.
type osFS struct {
	dir  string
	prep Prep

	mu    sync.Mutex
	files map[string][]*osFile // open files by current name, for Rename
}

// OpenDir returns the FS of directory dir, creating it if needed. prep
// chooses how Create prepares new files (see Prep).
func OpenDir(dir string, prep Prep) (FS, error) {
	if prep != PrepZeroFill && prep != PrepFallocate {
		return nil, fmt.Errorf("mmapfile: unknown preparation %d", prep)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mmapfile: create directory: %w", err)
	}
	return &osFS{dir: dir, prep: prep, files: make(map[string][]*osFile)}, nil
}

func (fs *osFS) Path() string { return fs.dir }

func (fs *osFS) path(name string) (string, error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", fmt.Errorf("mmapfile: %q is not a plain file name", name)
	}
	return filepath.Join(fs.dir, name), nil
}

func (fs *osFS) Create(name string, size int64) (File, error) {
	if size <= 0 || size > maxMapSize {
		return nil, fmt.Errorf("%w: %d bytes for %s", ErrInvalidSize, size, name)
	}
	p, err := fs.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mmapfile: create %s: %w", name, err)
	}
	fail := func(err error) (File, error) {
		// A half-made file must not survive: it could be mistaken for data.
		_ = f.Close()
		_ = os.Remove(p)
		return nil, err
	}
	if err := reserve(f, size, fs.prep); err != nil {
		return fail(fmt.Errorf("mmapfile: reserve %d bytes for %s: %w", size, name, err))
	}
	of, err := fs.mapFile(f, name, size)
	if err != nil {
		return fail(err)
	}
	prepare(of.data)
	return of, nil
}

func (fs *osFS) Open(name string) (File, error) {
	p, err := fs.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("mmapfile: open %s: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("mmapfile: stat %s: %w", name, err)
	}
	size := st.Size()
	switch {
	case size == 0:
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s", ErrEmptyFile, name)
	case size > maxMapSize:
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, more than one mapping can hold here", ErrInvalidSize, name, size)
	}
	of, err := fs.mapFile(f, name, size)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return of, nil
}

func (fs *osFS) mapFile(f *os.File, name string, size int64) (*osFile, error) {
	m, err := mmap.MapRegion(f, int(size), mmap.RDWR, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mmapfile: map %s (%d bytes): %w", name, size, err)
	}
	of := &osFile{fs: fs, f: f, m: m, data: []byte(m), name: name}
	register(of)
	fs.mu.Lock()
	fs.files[name] = append(fs.files[name], of)
	fs.mu.Unlock()
	return of, nil
}

func (fs *osFS) forget(of *osFile) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	name := of.Name()
	list := slices.DeleteFunc(fs.files[name], func(x *osFile) bool { return x == of })
	if len(list) == 0 {
		delete(fs.files, name)
	} else {
		fs.files[name] = list
	}
}

func (fs *osFS) Rename(oldName, newName string) error {
	op, err := fs.path(oldName)
	if err != nil {
		return err
	}
	np, err := fs.path(newName)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := os.Rename(op, np); err != nil {
		return fmt.Errorf("mmapfile: rename %s to %s: %w", oldName, newName, err)
	}
	moved := fs.files[oldName]
	delete(fs.files, oldName)
	for _, of := range moved {
		of.setName(newName)
	}
	// Files open under newName lost that entry: they keep their name, but a
	// later Rename of newName moves only the files renamed here.
	delete(fs.files, newName)
	if len(moved) > 0 {
		fs.files[newName] = moved
	}
	return nil
}

func (fs *osFS) Remove(name string) error {
	p, err := fs.path(name)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("mmapfile: remove %s: %w", name, err)
	}
	delete(fs.files, name) // open files keep their name, no longer renamed with it
	return nil
}

func (fs *osFS) List() ([]string, error) {
	entries, err := os.ReadDir(fs.dir)
	if err != nil {
		return nil, fmt.Errorf("mmapfile: list %s: %w", fs.dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

func (fs *osFS) SyncDir() error {
	d, err := os.Open(fs.dir)
	if err != nil {
		return fmt.Errorf("mmapfile: open directory %s: %w", fs.dir, err)
	}
	defer d.Close()
	if err := fsyncFile(d); err != nil {
		return fmt.Errorf("mmapfile: sync directory %s: %w", fs.dir, err)
	}
	return nil
}

func (fs *osFS) Lock() (io.Closer, error) {
	p := filepath.Join(fs.dir, "LOCK")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mmapfile: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, fs.dir)
		}
		return nil, fmt.Errorf("mmapfile: lock %s: %w", fs.dir, err)
	}
	return f, nil // closing the descriptor releases the flock
}

// osFile is one mapped file.
type osFile struct {
	fs   *osFS
	f    *os.File
	m    mmap.MMap
	data []byte

	nameMu sync.Mutex
	name   string
}

func (of *osFile) Name() string {
	of.nameMu.Lock()
	defer of.nameMu.Unlock()
	return of.name
}

func (of *osFile) setName(name string) {
	of.nameMu.Lock()
	of.name = name
	of.nameMu.Unlock()
}

func (of *osFile) Bytes() []byte { return of.data }
func (of *osFile) Size() int64   { return int64(len(of.data)) }

func (of *osFile) WriteAt(p []byte, off int64) error {
	if of.data == nil {
		return ErrClosed
	}
	if off < 0 || int64(len(p)) > int64(len(of.data))-off {
		return fmt.Errorf("%w: write %d bytes at %d of %s (%d bytes)", ErrInvalidRange, len(p), off, of.Name(), len(of.data))
	}
	// A store through the mapping faults where the file was cut; a pwrite
	// past its end would extend it instead, sparse, and the data the cut
	// took would read as zeros without a word. One byte read first (a
	// pread of a cached page) tells.
	var last [1]byte
	if n, err := of.f.ReadAt(last[:], int64(len(of.data))-1); n != 1 {
		if err != nil && !errors.Is(err, io.EOF) {
			// Not a verdict on the size: an unreadable page, say.
			return fmt.Errorf("mmapfile: read the last byte of %s: %w", of.Name(), err)
		}
		return fmt.Errorf("%w: %s is shorter than its %d bytes", ErrTruncated, of.Name(), len(of.data))
	}
	// os.File.WriteAt retries short writes and EINTR.
	if _, err := of.f.WriteAt(p, off); err != nil {
		return fmt.Errorf("mmapfile: write %s [%d, %d): %w", of.Name(), off, off+int64(len(p)), err)
	}
	return nil
}

func (of *osFile) ReadAt(p []byte, off int64) (int, error) {
	if of.data == nil {
		return 0, ErrClosed
	}
	if off < 0 || int64(len(p)) > int64(len(of.data))-off {
		return 0, fmt.Errorf("%w: read %d bytes at %d of %s (%d bytes)", ErrInvalidRange, len(p), off, of.Name(), len(of.data))
	}
	// os.File.ReadAt retries short reads and EINTR; the file may be
	// shorter than the mapping only if something truncated it.
	n, err := of.f.ReadAt(p, off)
	if err != nil {
		return n, fmt.Errorf("mmapfile: read %s [%d, %d): %w", of.Name(), off, off+int64(len(p)), err)
	}
	return n, nil
}

func (of *osFile) Sync(off, n int64) error {
	if of.data == nil {
		return ErrClosed
	}
	if off < 0 || n < 0 || n > int64(len(of.data))-off { // off+n could overflow
		return fmt.Errorf("%w: sync %d bytes at %d of %s (%d bytes)", ErrInvalidRange, n, off, of.Name(), len(of.data))
	}
	if n == 0 {
		return nil
	}
	start, end := pageCover(off, off+n, int64(len(of.data)))
	if err := msync(of.data[start:end], of.f); err != nil {
		return fmt.Errorf("mmapfile: sync %s [%d, %d): %w", of.Name(), start, end, err)
	}
	return nil
}

func (of *osFile) Advise(off, n int64, advice Advice) {
	if of.data == nil || off < 0 || n <= 0 || n > int64(len(of.data))-off {
		return
	}
	start, end := pageCover(off, off+n, int64(len(of.data)))
	advise(of.data[start:end], advice)
}

func (of *osFile) Close() error {
	if of.data == nil {
		return ErrClosed
	}
	unregister(of)
	of.fs.forget(of)
	of.data = nil
	err := of.m.Unmap()
	if cerr := of.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mmapfile: close %s: %w", of.Name(), err)
	}
	return nil
}

// pageCover widens [start, end) to page boundaries, clamped to size.
func pageCover(start, end, size int64) (int64, int64) {
	page := int64(os.Getpagesize())
	start &^= page - 1
	end = (end + page - 1) &^ (page - 1)
	return start, min(end, size)
}
