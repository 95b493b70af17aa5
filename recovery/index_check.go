package recovery

import (
	"errors"
	"fmt"
	"os"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
)

// CheckIndex validates every slot of the index of the store in dir (see
// hashindex.Index.Validate), which a clean Open does not: it trusts a
// cleanly closed index without reading it. A damaged slot then fails
// every read and append of its stream, Open after Open. It returns nil
// when there is no index (the next Open builds one), and ErrIndexDamaged,
// wrapping what is wrong (a *hashindex.CorruptionError naming the slot, or
// why the file is unusable), when the index is damaged. Nothing is
// changed.
func CheckIndex(dir string) error {
	fsys, _, lock, err := openStoreDir(dir, mmapfile.PrepFallocate)
	if err != nil {
		return err
	}
	defer lock.Close()
	ix, err := hashindex.Open(readOnlyFS{fsys}, DefaultIndexName)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case errors.Is(err, hashindex.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrIndexDamaged, err)
	case err != nil:
		return err
	}
	defer ix.Close()
	if err := mmapfile.Guard(ix.Validate); errors.Is(err, hashindex.ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrIndexDamaged, err)
	} else if err != nil {
		return err
	}
	return nil
}

// RemoveIndex removes the index of the store in dir, durably, so that the
// next Open rebuilds it from the log: the index is derived data, and this
// loses nothing. It is the remedy for an index CheckIndex finds damaged.
func RemoveIndex(dir string) error {
	fsys, _, lock, err := openStoreDir(dir, mmapfile.PrepFallocate)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := removeIndexFile(fsys); err != nil {
		return fmt.Errorf("recovery: remove the index of %s: %w", dir, err)
	}
	return fsys.SyncDir()
}
