package recovery

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// checkpointOffset is the file offset of the index header's checkpoint
// field (see hashindex's format), for problem reports.
const checkpointOffset = 32

// openIndex opens the index, if any, for the agreement check. Its
// checkpoint, clean or not, is a position known durable, which the log
// scan uses to tell damage from a torn tail.
func (v *verifier) openIndex(fsys mmapfile.FS) {
	name := v.opts.IndexName
	ix, err := hashindex.Open(fsys, name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		v.note("no index file: the next Open builds it from the log")
		return
	case osRefused(err):
		v.refused(name, err)
		return
	case err != nil:
		// Derived data, rebuilt by the next Open, but damage on the disk
		// all the same.
		v.corrupt(name, 0, "%v", err)
		return
	}
	v.ix = ix
	v.checkpoint = ix.Checkpoint()
	v.rep.IndexDirty = !ix.Clean()
}

// checkIndex compares a cleanly closed index with the log: every entry
// points at its stream's newest record, and every stream has an entry.
func (v *verifier) checkIndex() {
	ix, name := v.ix, v.opts.IndexName
	if ix == nil {
		return
	}
	cp, end := ix.Checkpoint(), v.rep.LogEnd
	switch {
	case !ix.Clean():
		v.note("the index was not closed cleanly (unclean shutdown): not compared with the log; the next Open rebuilds it")
		return
	case cp > end:
		v.corrupt(name, checkpointOffset, "index checkpoint %d lies past the end of the log (%d)", cp, end)
		return
	case cp < end:
		// Legitimate after a crash between a commit and its index update.
		v.note("index checkpoint %d is behind the end of the log (%d): not compared with the log; the next Open rebuilds it", cp, end)
		return
	}
	if err := ix.Validate(); err != nil {
		var ce *hashindex.CorruptionError
		if errors.As(err, &ce) {
			v.corrupt(name, ce.Offset, "%s", ce.Reason)
		} else {
			v.corrupt(name, 0, "%v", err)
		}
	}
	v.rep.IndexChecked = true
	// Map order is random: sort what is found so reports are stable.
	var found []*segment.CorruptionError
	add := func(pos uint64, format string, args ...any) {
		if len(found) >= v.opts.MaxProblems { // bounded, like the list itself
			v.rep.MoreProblems++
			return
		}
		ce := &segment.CorruptionError{Segment: name, Offset: 0, Reason: fmt.Sprintf(format, args...)}
		if s, off, ok := v.locate(pos); ok {
			ce.Segment, ce.Offset = s.name, off
		}
		found = append(found, ce)
	}
	for fp, e := range ix.All() {
		v.rep.IndexEntries++
		h, ok := v.heads[fp]
		if !ok {
			add(e.Tail, "index entry (version %d) points at %s, but no stream in the log has its fingerprint", e.Version, v.describe(e.Tail))
			continue
		}
		switch want := h.c.entry(); {
		case e.Tail != want.Tail || e.Version != want.Version:
			add(e.Tail, "index entry points at %s as version %d, but the stream's newest record is version %d at position %d",
				v.describe(e.Tail), e.Version, want.Version, want.Tail)
		case e.Aux != want.Aux || e.State != want.State:
			add(e.Tail, "index entry of the stream at %s says %v with aux word %d, but its newest system record (%s) makes it %v with %d",
				v.describe(e.Tail), e.State, e.Aux, posString(h.c.sys), want.State, want.Aux)
		}
		h.seen = true
		v.heads[fp] = h
	}
	for _, h := range v.heads {
		if !h.seen {
			pos := h.c.entry().Tail
			add(pos, "stream's newest record, %s, has no index entry", v.describe(pos))
		}
	}
	slices.SortFunc(found, func(a, b *segment.CorruptionError) int {
		return cmp.Or(cmp.Compare(a.Segment, b.Segment), cmp.Compare(a.Offset, b.Offset), cmp.Compare(a.Reason, b.Reason))
	})
	for _, ce := range found {
		v.problem(ce)
	}
}
