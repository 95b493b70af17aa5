package recovery

import (
	"errors"
	"fmt"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// ErrReplayUnsafe is returned by Replay when the index cannot be brought up
// to date from its checkpoint: its header or slots do not validate, its
// checkpoint lies outside the log, or an entry disagrees with the log.
// Nothing was changed; the caller rebuilds the index with Rebuild.
var ErrReplayUnsafe = errors.New("recovery: the index cannot be replayed from its checkpoint")

// Replay brings ix, an index left behind by an unclean stop, up to date by
// scanning the log only from the index's checkpoint: the checkpoint is a
// log position through which both the log and the index's slots were
// durable (hashindex.Flush runs only after the log was synced that far).
// It cuts the torn tail like Rebuild does and leaves the index describing
// the log exactly, marked clean at the new end.
//
// Slots may have reached the disk after the checkpoint (page write-back),
// so an entry may already point past it — to a record the scan then meets —
// but never to a record the log does not hold: in the durable modes the
// index is updated only after its records are durable, and an entry at or
// past the end found here (a NoSync store after a power cut) makes Replay
// give up. Every check runs before anything is changed, so on
// ErrReplayUnsafe (or any error) the log and the index are untouched and
// the caller falls back to Rebuild, which trusts nothing of the index.
//
// Segments wholly below the checkpoint are not read: damage there is left
// to Verify. The caller runs Replay inside mmapfile.Guard.
func Replay(fs mmapfile.FS, segs []Segment, ix *hashindex.Index) (Report, error) {
	cp := ix.Checkpoint()
	first := -1
	for i, sg := range segs {
		if sg.Base <= cp && cp < sg.Base+uint64(sg.Size-segment.HeaderSize) {
			first = i
		}
	}
	if first < 0 || len(segs) == 0 {
		return Report{}, fmt.Errorf("%w: checkpoint %d lies outside the log", ErrReplayUnsafe, cp)
	}
	if err := ix.Validate(); err != nil {
		return Report{}, fmt.Errorf("%w: %w", ErrReplayUnsafe, err)
	}

	// Scan from the checkpoint, following each stream's chain from the
	// index's entry (or from the record itself when the entry is ahead).
	heads := make(map[string]*replayHead)
	var rec segment.Record
	lookup := func(stream []byte) (hashindex.Entry, bool, error) {
		return ix.Lookup(hashindex.FingerprintOf(stream), streamAt(segs, string(stream), &rec))
	}
	lg, err := scanLog(segs, first, segment.HeaderSize+int64(cp-segs[first].Base), func(name string, off int64, r *segment.Record) error {
		h, ok := heads[string(r.Stream)]
		if !ok {
			e, found, err := lookup(r.Stream)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrReplayUnsafe, err)
			}
			h = &replayHead{}
			switch {
			case !found:
				// A stream new since the checkpoint.
				if r.Prev != segment.NoPosition || r.Version != 0 {
					return fmt.Errorf("%w: stream %q at version %d has no index entry", ErrReplayUnsafe, r.Stream, r.Version)
				}
			case e.Tail < r.Position:
				if r.Prev != e.Tail || r.Version != e.Version+1 {
					return fmt.Errorf("%w: stream %q version %d does not follow its index entry (version %d at %d)",
						ErrReplayUnsafe, r.Stream, r.Version, e.Version, e.Tail)
				}
			default:
				// The entry reached the disk after this record was
				// appended: it must name a record the scan will meet.
				h.ahead, h.entry = true, e
			}
			heads[string(r.Stream)] = h
		} else if r.Prev != h.tail || r.Version != h.version+1 {
			return &segment.CorruptionError{Segment: name, Offset: off, Reason: fmt.Sprintf(
				"stream %q version %d points back to %d, but its previous record is version %d at %d",
				r.Stream, r.Version, r.Prev, h.version, h.tail)}
		}
		h.tail, h.version = r.Position, r.Version
		if h.ahead && h.entry.Tail == r.Position {
			if h.entry.Version != r.Version {
				return fmt.Errorf("%w: index entry of %q at %d says version %d, the record %d",
					ErrReplayUnsafe, r.Stream, r.Position, h.entry.Version, r.Version)
			}
			h.ahead = false // the entry is now behind the scan
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	for stream, h := range heads {
		if h.ahead {
			return Report{}, fmt.Errorf("%w: index entry of %q points at %d, which the log (ending at %d) does not hold",
				ErrReplayUnsafe, stream, h.entry.Tail, lg.end)
		}
	}
	// An entry at or past the checkpoint must name a record the log holds,
	// of its own stream (the scan met it; this finds entries of streams
	// whose later records were lost). One past the end is a NoSync store's
	// entry for a record a power cut took.
	for fp, e := range ix.All() {
		if e.Tail < cp {
			continue
		}
		if e.Tail >= lg.end {
			return Report{}, fmt.Errorf("%w: an index entry points at %d, past the log end %d", ErrReplayUnsafe, e.Tail, lg.end)
		}
		err := withRecordAt(segs, e.Tail, &rec, func(r *segment.Record) error {
			if hashindex.FingerprintOf(r.Stream) != fp || r.Version != e.Version {
				return fmt.Errorf("it names version %d of %q", r.Version, r.Stream)
			}
			return nil
		})
		if err != nil {
			return Report{}, fmt.Errorf("%w: the index entry at %d does not name its stream's record (%v)", ErrReplayUnsafe, e.Tail, err)
		}
	}
	if err := checkWatermark(segs, &lg, cp); err != nil {
		return Report{}, err
	}

	// Checked: now change things.
	rep := Report{End: lg.end, Records: lg.records, RemovedSegments: len(segs) - 1 - lg.cut}
	if rep.TornBytes, err = cutLog(fs, segs, lg, cp); err != nil {
		return rep, err
	}
	kept := segs[:lg.cut+1]
	for stream, h := range heads {
		e := hashindex.Entry{Tail: h.tail, Version: h.version, State: hashindex.Live}
		if err := ix.Put(hashindex.FingerprintString(stream), e, streamAt(kept, stream, &rec)); err != nil {
			return rep, err
		}
	}
	rep.Streams = ix.Len()
	if err := ix.Flush(rep.End, true); err != nil {
		return rep, err
	}
	return rep, nil
}

// replayHead is a stream's newest record seen by Replay's scan.
type replayHead struct {
	tail    uint64
	version int64
	// ahead: the index entry (entry) points at a record later than the
	// first one the scan met; it must meet that record too.
	ahead bool
	entry hashindex.Entry
}
