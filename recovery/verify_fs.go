package recovery

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// readOnlyFS is the view of a store directory that Verify and PlanTruncate
// work through, so that they cannot change the directory by mistake. Files
// are still mapped read-write (mmapfile has no other mapping); nothing here
// stores to them. Remove reports success without removing anything:
// hashindex.Open deletes the scratch files of an interrupted index build,
// which are garbage either way, and leaving them for the next store Open is
// what "never modify anything" asks.
type readOnlyFS struct{ mmapfile.FS }

func (readOnlyFS) Create(name string, _ int64) (mmapfile.File, error) {
	return nil, fmt.Errorf("%w: create %s", ErrReadOnly, name)
}

func (readOnlyFS) Rename(oldName, newName string) error {
	return fmt.Errorf("%w: rename %s to %s", ErrReadOnly, oldName, newName)
}

func (readOnlyFS) Remove(string) error { return nil }

func (readOnlyFS) SyncDir() error { return fmt.Errorf("%w: sync directory", ErrReadOnly) }

// segName is a segment file of the directory and the base its name gives.
type segName struct {
	name string
	base uint64
}

// openStoreDir opens dir, which must exist and hold segment files, and
// takes its lock, so that nothing here ever races a live store. It returns
// the segment files, listed under the lock, in log order. Its errors name
// dir already; callers return them as they are.
func openStoreDir(dir string, prep mmapfile.Prep) (mmapfile.FS, []segName, io.Closer, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, nil, fmt.Errorf("%w: %s does not exist", ErrNotStore, dir)
	case err != nil:
		return nil, nil, nil, fmt.Errorf("recovery: open %s: %w", dir, err)
	case !st.IsDir():
		return nil, nil, nil, fmt.Errorf("%w: %s is not a directory", ErrNotStore, dir)
	}
	fsys, err := mmapfile.OpenDir(dir, prep)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("recovery: open %s: %w", dir, err)
	}
	// Look before locking: Lock creates the LOCK file, and a directory
	// that is not a store must stay untouched.
	if segs, err := listSegments(fsys); err != nil || len(segs) == 0 {
		if err == nil {
			err = fmt.Errorf("%w: %s holds no segment files", ErrNotStore, dir)
		}
		return nil, nil, nil, err
	}
	lock, err := fsys.Lock()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("recovery: lock %s: %w", dir, err)
	}
	// Again under the lock: a store may have rolled or recovered meanwhile.
	segs, err := listSegments(fsys)
	if err == nil && len(segs) == 0 {
		err = fmt.Errorf("%w: %s holds no segment files", ErrNotStore, dir)
	}
	if err != nil {
		_ = lock.Close()
		return nil, nil, nil, err
	}
	return fsys, segs, lock, nil
}

// listSegments returns the segment files of fsys in log order. Other files
// (the index, the lock, spares, "*.broken" copies) are not segments:
// segment.ParseFileName accepts exactly "<16 hex digits>.seg".
func listSegments(fsys mmapfile.FS) ([]segName, error) {
	names, err := fsys.List()
	if err != nil {
		return nil, fmt.Errorf("recovery: list segments: %w", err)
	}
	var segs []segName
	for _, n := range names {
		if base, ok := segment.ParseFileName(n); ok {
			segs = append(segs, segName{n, base})
		}
	}
	return segs, nil // List sorts, and zero-padded hex sorts in log order
}
