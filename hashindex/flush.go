package hashindex

import "fmt"

// writable returns the current table for a mutator holding writeMu, or why
// there is none: the index is closed, or an earlier sync or rename failed.
func (ix *Index) writable() (*table, error) {
	if ix.t == nil {
		return nil, ix.closedErr()
	}
	if ix.failed != nil {
		return nil, ix.failed
	}
	return ix.t, nil
}

// fail records a failed sync, rename or directory sync and returns it. The
// error is sticky: after a failed write-back the kernel may have marked the
// pages clean, so nothing later could be trusted to be durable, and every
// further Put and Flush returns the same error. Lookups keep working on
// the (still consistent) mapping.
func (ix *Index) fail(err error) error {
	if ix.failed == nil {
		ix.failed = err
	}
	return err
}

// writeHeader re-encodes the mapped header from the in-memory values.
// Only writeMu holders call it; readers never read the header bytes.
func (ix *Index) writeHeader(t *table) {
	encodeHeader(t.data, header{
		slots:      t.slots,
		count:      ix.count.Load(),
		annotated:  ix.annotated.Load(),
		checkpoint: ix.checkpoint.Load(),
		lastLen:    ix.lastLen.Load(),
		clean:      ix.clean.Load(),
	})
}

// markDirty makes "not clean" durable before the first slot changes after
// the header last said clean. Without it, a crash could leave changed slots
// under a header still claiming a clean shutdown at an older checkpoint.
func (ix *Index) markDirty(t *table) error {
	if !ix.clean.Load() {
		return nil
	}
	ix.clean.Store(false)
	ix.writeHeader(t)
	if err := t.file.Sync(0, HeaderSize); err != nil {
		return ix.fail(fmt.Errorf("hashindex: mark %s dirty: %w", ix.name, err))
	}
	return nil
}

// Flush makes every slot durable, then records checkpoint, recordLen (the
// length of the log record ending at checkpoint, 0 when not known; see
// CheckpointRecordLen) and the clean flag in the header and makes the
// header durable. The order is the point:
// the header must never reach the disk claiming slots that did not. Pass
// clean=true only at shutdown, with no Put to follow before Close; any later
// Put clears the flag again.
//
// The slot msync is skipped when no slot changed since the last one (a
// growth counts as a change: Puts may have gone into its file while its
// tail synced it). Flush first waits for a growth's tail. Flush holds no lock that Lookups
// need, so they continue during its msyncs. Flush and Put exclude each
// other (writeMu), so they may run on different goroutines, but checkpoint
// then covers only the Puts that returned before Flush was called: the
// caller must know which those are.
func (ix *Index) Flush(checkpoint uint64, recordLen uint32, clean bool) error {
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	// The header below may only claim slots of the file the index's name
	// refers to: a growth's file must have been renamed into place.
	if err := ix.waitGrowth(); err != nil {
		return err
	}
	t, err := ix.writable()
	if err != nil {
		return err
	}
	if ix.slotsDirty {
		if err := t.file.Sync(HeaderSize, t.file.Size()-HeaderSize); err != nil {
			return ix.fail(fmt.Errorf("hashindex: flush %s slots: %w", ix.name, err))
		}
		ix.slotsDirty = false
	}
	ix.checkpoint.Store(checkpoint)
	ix.lastLen.Store(recordLen)
	ix.clean.Store(clean)
	ix.writeHeader(t)
	if err := t.file.Sync(0, HeaderSize); err != nil {
		return ix.fail(fmt.Errorf("hashindex: flush %s header: %w", ix.name, err))
	}
	return nil
}
