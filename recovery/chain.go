package recovery

import (
	"fmt"
	"math"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/segment"
)

// streamChain is a stream as a log scan has seen it so far. A stream has
// two chains in the log: its events, each pointing back at the previous
// event with the next version, and its system records (FlagMetadata:
// metadata, deletes, tombstones), each pointing back at the previous
// system record and carrying the version the next event would get. The
// index entry is derived from both heads.
type streamChain struct {
	tail    uint64 // newest event, NoPosition if none
	version int64  // its version, -1 if none
	sys     uint64 // newest system record, NoPosition if none
	state   hashindex.State
	// tailUnknown, sysUnknown: the chain's head before the next event, or
	// system record, is not known (Replay starting from an index entry
	// newer than the scan): the next one is taken as it is.
	tailUnknown, sysUnknown bool
	// gapped: compaction removed records of the stream that the scan would
	// have met, so a system record's version may run ahead of the newest
	// event the scan saw.
	gapped bool
	// gapRecord is the first event seen pointing back at a record
	// compaction removed (NoPosition if none): only streams with system
	// records lose records to compaction, so by the end of the scan the
	// stream must have one (see unexplainedGap).
	gapRecord uint64
}

func newChain() streamChain {
	return streamChain{tail: segment.NoPosition, version: -1, sys: segment.NoPosition, state: hashindex.Live, gapRecord: segment.NoPosition}
}

// noteGap records that r points back at a record compaction removed.
func (c *streamChain) noteGap(r *segment.Record) {
	c.gapped = true
	if c.gapRecord == segment.NoPosition {
		c.gapRecord = r.Position
	}
}

// unexplainedGap reports whether, at the end of a scan, the chain lost
// records to compaction although the stream has no system record: no
// retention could have removed them, so a back-pointer is corrupt.
func (c *streamChain) unexplainedGap() bool {
	return c.gapRecord != segment.NoPosition && c.sys == segment.NoPosition && !c.sysUnknown
}

// gapReason describes an unexplained gap, for the record at gapRecord.
func gapReason(stream []byte) string {
	return fmt.Sprintf("stream %q points back at a record compaction removed, but it has no system record: compaction keeps every record of a stream without retention", stream)
}

// chainOf is the chain an index entry describes.
func chainOf(e hashindex.Entry) streamChain {
	c := newChain()
	if e.Version >= 0 {
		c.tail, c.version = e.Tail, e.Version
	}
	if e.Aux != 0 {
		c.sys = e.Aux - 1
	}
	c.state = e.State
	return c
}

// gaps tells chain checks where compaction may have removed records.
type gaps struct {
	// removed reports whether compaction removed the record at a position.
	removed func(pos uint64) bool
	// after is the first compacted segment's base (MaxUint64 when there is
	// none): records past it may follow removed ones.
	after uint64
}

// gapsIn describes the compacted segments of segs.
func gapsIn(segs []Segment) gaps {
	g := gaps{removed: func(pos uint64) bool { return removedIn(segs, pos) }, after: math.MaxUint64}
	for _, sg := range segs {
		if sg.Compacted {
			g.after = sg.Base
			break
		}
	}
	return g
}

// problem says why r does not continue c, or "". A pointer to a record
// compaction removed continues the chain from what the scan saw before:
// retention removes a prefix of a stream, bar its newest event and system
// record, so versions may jump there.
func (c *streamChain) problem(r *segment.Record, g gaps) string {
	if c.state == hashindex.Tombstoned && !c.sysUnknown {
		return fmt.Sprintf("stream %q has a record at %d after its tombstone", r.Stream, r.Position)
	}
	if r.Flags&segment.FlagMetadata != 0 {
		prevOK := c.sysUnknown || r.Prev == c.sys || g.removed(r.Prev)
		// The events before r may all be gone, their pointers with them.
		versionOK := c.tailUnknown || r.Version == c.version+1 || (r.Position > g.after && r.Version > c.version)
		if !prevOK || !versionOK {
			return fmt.Sprintf("system record of stream %q points back to %s with next version %d, but its previous system record is at %s and its newest event is version %d",
				r.Stream, posString(r.Prev), r.Version, posString(c.sys), c.version)
		}
		return ""
	}
	if c.tailUnknown {
		return ""
	}
	if r.Prev != c.tail || r.Version != c.version+1 {
		if r.Prev != c.tail && r.Version > c.version && g.removed(r.Prev) {
			c.noteGap(r)
			return ""
		}
		if c.version < 0 {
			return fmt.Sprintf("stream %q starts at version %d with a back-pointer to %s", r.Stream, r.Version, posString(r.Prev))
		}
		return fmt.Sprintf("stream %q version %d points back to %s, but its previous record is version %d at %d",
			r.Stream, r.Version, posString(r.Prev), c.version, c.tail)
	}
	return ""
}

// apply makes r the newest record of its chain.
func (c *streamChain) apply(r *segment.Record) {
	if r.Flags&segment.FlagMetadata == 0 {
		c.tail, c.version, c.tailUnknown = r.Position, r.Version, false
		if c.state == hashindex.Deleted {
			c.state = hashindex.Live // an event revives a deleted stream
		}
		return
	}
	c.sys, c.sysUnknown = r.Position, false
	switch {
	case r.Flags&segment.FlagTombstone != 0:
		c.state = hashindex.Tombstoned
	case r.Flags&segment.FlagDeleted != 0:
		c.state = hashindex.Deleted
	default:
		c.state = hashindex.Live
	}
}

// entry is the index entry for the chain: the newest event (or, for a
// stream with only system records, the newest of those, where the index
// can check the stream ID), and the newest system record in Aux (plus one,
// so that zero means none).
func (c *streamChain) entry() hashindex.Entry {
	e := hashindex.Entry{Tail: c.tail, Version: c.version, State: c.state}
	if c.version < 0 {
		e.Tail = c.sys
	}
	if c.sys != segment.NoPosition {
		e.Aux = c.sys + 1
	}
	return e
}

func posString(p uint64) string {
	if p == segment.NoPosition {
		return "nothing"
	}
	return fmt.Sprint(p)
}
