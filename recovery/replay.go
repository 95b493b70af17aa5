package recovery

import (
	"errors"
	"fmt"
	"math"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

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
// The checkpoint itself is checked against the log: the newest record the
// index names below it must be there, and end at it when nothing follows
// (see checkNewestBelow), so that a stale or foreign index is rebuilt from
// the log rather than cut the log at its word. Otherwise segments wholly
// below the checkpoint are not read: damage there is left to reads and
// Verify. The caller runs Replay inside mmapfile.Guard.
func Replay(fs mmapfile.FS, segs []Segment, ix *hashindex.Index) (Report, error) {
	cp := ix.Checkpoint()
	first := -1
	for i, sg := range segs {
		if sg.Base <= cp && cp < sg.rangeEnd() {
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
	g := gapsIn(segs)
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
			h = &replayHead{chain: newChain()}
			switch {
			case !found:
				// A stream new since the checkpoint.
			case entryBefore(e, r.Position):
				h.chain = chainOf(e)
			default:
				// The entry reached the disk after this record was
				// appended: it must name records the scan will meet, and
				// what it names there says nothing of the chains before.
				h.entry = e
				h.needTail = e.Version >= 0 && e.Tail >= r.Position
				h.needSys = e.Aux != 0 && e.Aux-1 >= r.Position
				h.chain = chainOf(e)
				h.chain.tailUnknown, h.chain.sysUnknown = h.needTail, h.needSys
			}
			heads[string(r.Stream)] = h
			if reason := h.chain.problem(r, g); reason != "" {
				return fmt.Errorf("%w: %s (index entry: %+v)", ErrReplayUnsafe, reason, e)
			}
		} else if reason := h.chain.problem(r, g); reason != "" {
			return &segment.CorruptionError{Segment: name, Offset: off, Reason: reason}
		}
		h.chain.apply(r)
		return h.met(r)
	})
	if err != nil {
		return Report{}, err
	}
	for stream, h := range heads {
		if h.ahead() {
			return Report{}, fmt.Errorf("%w: index entry of %q points at %d, which the log (ending at %d) does not hold",
				ErrReplayUnsafe, stream, h.entry.Tail, lg.end)
		}
	}
	// An entry at or past the checkpoint must name a record the log holds,
	// of its own stream (the scan met it; this finds entries of streams
	// whose later records were lost). One past the end is a NoSync store's
	// entry for a record a power cut took.
	var newest namedRecord // the newest record an entry names below cp
	for fp, e := range ix.All() {
		if err := checkEntryHeld(segs, fp, e, cp, lg.end, &rec); err != nil {
			return Report{}, err
		}
		newest.consider(fp, e, cp)
	}
	newestLen, err := checkNewestBelow(segs, &newest, cp, lg.end, &rec)
	if err != nil {
		return Report{}, err
	}
	if err := checkWatermark(segs, &lg, cp); err != nil {
		return Report{}, err
	}

	// Checked: now change things.
	rep := Report{End: lg.end, Records: lg.records, RemovedSegments: len(segs) - 1 - lg.cut, LastRecordLen: lg.lastRecordLen()}
	if lg.end == cp {
		rep.LastRecordLen = newestLen // the scan met no record
	}
	if rep.TornBytes, err = cutLog(fs, segs, lg, cp); err != nil {
		return rep, err
	}
	kept := segs[:lg.cut+1]
	for stream, h := range heads {
		if err := ix.Put(hashindex.FingerprintString(stream), h.chain.entry(), streamAt(kept, stream, &rec)); err != nil {
			return rep, err
		}
	}
	rep.Streams = ix.Len()
	if err := ix.Flush(rep.End, rep.LastRecordLen, true); err != nil {
		return rep, err
	}
	return rep, nil
}

// replayHead is a stream as Replay's scan has seen it.
type replayHead struct {
	chain streamChain
	// needTail, needSys: the index entry (entry) was newer than the first
	// record the scan met, and names an event or system record the scan
	// has yet to meet.
	needTail, needSys bool
	entry             hashindex.Entry
}

func (h *replayHead) ahead() bool { return h.needTail || h.needSys }

// met notes that the scan met r, which may be a record h's entry names.
func (h *replayHead) met(r *segment.Record) error {
	if h.needTail && r.Position == h.entry.Tail {
		want := r.Version
		if r.Flags&segment.FlagMetadata != 0 {
			want = r.Version - 1 // a stream with no events: Version -1
		}
		if h.entry.Version != want {
			return fmt.Errorf("%w: index entry of %q at %d says version %d, the record %d",
				ErrReplayUnsafe, r.Stream, r.Position, h.entry.Version, r.Version)
		}
		h.needTail = false
	}
	if h.needSys && r.Position == h.entry.Aux-1 {
		if r.Flags&segment.FlagMetadata == 0 {
			return fmt.Errorf("%w: index entry of %q names %d as its system record, which is an event", ErrReplayUnsafe, r.Stream, r.Position)
		}
		h.needSys = false
	}
	return nil
}

// entryBefore reports whether every record e names lies before pos.
func entryBefore(e hashindex.Entry, pos uint64) bool {
	return e.Tail < pos && (e.Aux == 0 || e.Aux-1 < pos)
}

// checkEntryHeld checks an index entry against a log ending at end: what
// it names at or past the checkpoint cp must be a record the log holds, of
// the entry's stream and of the kind and version the entry says.
func checkEntryHeld(segs []Segment, fp hashindex.Fingerprint, e hashindex.Entry, cp, end uint64, rec *segment.Record) error {
	if e.Tail >= cp {
		if err := checkHeld(segs, fp, e, e.Tail, e.Version < 0, end, rec); err != nil {
			return err
		}
	}
	if e.Aux != 0 && e.Aux-1 >= cp {
		return checkHeld(segs, fp, e, e.Aux-1, true, end, rec)
	}
	return nil
}

// checkHeld checks that the log, ending at end, holds at pos the record
// entry e (of the stream with fingerprint fp) names: its newest event, or
// its newest system record when system.
func checkHeld(segs []Segment, fp hashindex.Fingerprint, e hashindex.Entry, pos uint64, system bool, end uint64, rec *segment.Record) error {
	if pos >= end {
		return fmt.Errorf("%w: an index entry points at %d, past the log end %d", ErrReplayUnsafe, pos, end)
	}
	err := withRecordAt(segs, pos, rec, func(r *segment.Record) error {
		isSys := r.Flags&segment.FlagMetadata != 0
		switch {
		case hashindex.FingerprintOf(r.Stream) != fp:
			return fmt.Errorf("it names a record of %q", r.Stream)
		case isSys != system:
			return fmt.Errorf("it names the wrong kind of record (system record: %v)", isSys)
		case !system && r.Version != e.Version:
			return fmt.Errorf("it names version %d of %q", r.Version, r.Stream)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: the index entry at %d does not name its stream's record (%w)", ErrReplayUnsafe, pos, err)
	}
	return nil
}

// namedRecord is a record an index entry names, the newest below a
// checkpoint among those considered.
type namedRecord struct {
	found  bool
	fp     hashindex.Fingerprint
	e      hashindex.Entry
	pos    uint64
	system bool
}

// consider takes the records entry e names below cp into account.
func (n *namedRecord) consider(fp hashindex.Fingerprint, e hashindex.Entry, cp uint64) {
	take := func(pos uint64, system bool) {
		if pos < cp && (!n.found || pos > n.pos) {
			*n = namedRecord{true, fp, e, pos, system}
		}
	}
	take(e.Tail, e.Version < 0) // a system record when it has no event
	if e.Aux != 0 {
		take(e.Aux-1, true)
	}
}

// checkNewestBelow checks the newest record the index names below its
// checkpoint cp, in a log ending at end: the log must hold it, as it held
// every record before cp when the checkpoint was taken. When nothing
// follows cp, that record is the log's last (every record is its stream's
// newest event or system record when written, and stays named until a
// later one, which would lie past cp) and must end exactly at cp, unless
// cp is where a compacted segment's range ends (see compactedEndAt).
//
// This finds a checkpoint that is not where the log's data ended when it
// was taken: one ahead of the data (an index newer than the segments
// beside it, say from a copy of a running store that took the index after
// the segments), where the scan meets zeros and takes them for the end,
// leaving a hole; or one inside a record, whose scan takes the record's
// middle for a torn tail and cuts it. A record there that does not verify
// is damage below the checkpoint, left to reads and Verify like all of
// it; zeros where it should be are a hole. When the record ends at cp,
// its length is returned.
func checkNewestBelow(segs []Segment, newest *namedRecord, cp, end uint64, rec *segment.Record) (uint32, error) {
	if !newest.found {
		if cp > 0 && end == cp {
			return 0, fmt.Errorf("%w: the index names no record below its checkpoint %d", ErrReplayUnsafe, cp)
		}
		return 0, nil
	}
	err := checkHeld(segs, newest.fp, newest.e, newest.pos, newest.system, end, rec)
	switch {
	case err == nil:
		recEnd := newest.pos + uint64(rec.Len())
		if end == cp && recEnd != cp && !compactedEndAt(segs, cp) {
			return 0, fmt.Errorf("%w: the log's last record ends at %d, not at the index's checkpoint %d", ErrReplayUnsafe, recEnd, cp)
		}
		if recEnd == cp && uint64(rec.Len()) <= math.MaxUint32 {
			return uint32(rec.Len()), nil
		}
		return 0, nil
	case errors.Is(err, segment.ErrCorrupt) && !zerosAt(segs, newest.pos):
		return 0, nil // damage below the checkpoint
	}
	return 0, err
}

// compactedEndAt reports whether a compacted segment of segs ends at log
// position pos. Its range ends there, a checksummed header field says so,
// though its last records may have been dropped: a log cut there (spool
// recover) ends at pos after a record that ends before it.
func compactedEndAt(segs []Segment, pos uint64) bool {
	for _, sg := range segs {
		if sg.Compacted && sg.End == pos {
			return true
		}
	}
	return false
}

// zerosAt reports whether an ordinary segment of segs holds a zero record
// header (the end of its data) at log position pos.
func zerosAt(segs []Segment, pos uint64) bool {
	sg, ok := segmentOf(segs, pos)
	if !ok || sg.Compacted {
		return false
	}
	zero := false
	_ = withMapped(sg, func(f mmapfile.File, _ segment.PositionMap) error {
		off := int64(pos-sg.Base) + segment.HeaderSize
		zero = off <= f.Size() && segment.IsEnd(f.Bytes()[off:])
		return nil
	})
	return zero
}
