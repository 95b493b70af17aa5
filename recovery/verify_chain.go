package recovery

import (
	"bytes"
	"fmt"
	"math/bits"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/segment"
)

// chainHead is what Verify keeps per stream: its chains' heads so far
// (about 40 bytes, plus the 16-byte fingerprint key, so a million streams
// cost tens of MiB, not the stream IDs), and whether the index has an
// entry for it.
type chainHead struct {
	c    streamChain
	seen bool
}

// follow checks that r, at file offset off of s, continues its stream's
// chain, and makes it the chain's newest record. A record that breaks its
// chain is reported once and then taken as the chain's new head, so that
// one bad pointer does not make every later record of the stream a
// problem too.
func (v *verifier) follow(s *vseg, off int64, r *segment.Record) {
	fp := hashindex.FingerprintOf(r.Stream)
	h, ok := v.heads[fp]
	if !ok {
		h.c = newChain()
	}
	if reason := v.chainProblem(&h.c, r); reason != "" {
		v.corrupt(s.name, off, "%s", reason)
	}
	h.c.apply(r)
	v.heads[fp] = h
}

// chainProblem returns what is wrong with r as the successor of c, or "".
// Pointers into bytes already reported unreadable are not reported again.
func (v *verifier) chainProblem(c *streamChain, r *segment.Record) string {
	if c.state == hashindex.Tombstoned || r.Flags&segment.FlagMetadata != 0 {
		return c.problem(r, gaps{removed: v.isLost, after: v.compactedFrom})
	}
	switch {
	case c.version < 0:
		if r.Prev == segment.NoPosition && r.Version == 0 {
			return ""
		}
		if v.isLost(r.Prev) {
			v.gap(c, r)
			return ""
		}
		return fmt.Sprintf("stream %q first appears at version %d with a back-pointer to %s; a stream starts at version 0",
			r.Stream, r.Version, v.describe(r.Prev))
	case r.Prev != c.tail:
		if v.isLost(r.Prev) {
			v.gap(c, r)
			return ""
		}
		return fmt.Sprintf("stream %q version %d points back to %s, but the stream's previous record is version %d at position %d",
			r.Stream, r.Version, v.describe(r.Prev), c.version, c.tail)
	case r.Version != c.version+1:
		return fmt.Sprintf("stream %q: version %d follows version %d; versions must be contiguous", r.Stream, r.Version, c.version)
	}
	return v.skipProblem(c, r)
}

// gap notes that r points back at a record that is gone: removed by
// compaction (which only streams with system records may show), or in
// bytes already reported unreadable.
func (v *verifier) gap(c *streamChain, r *segment.Record) {
	c.gapped = true
	if v.compactedAway(r.Prev) {
		c.noteGap(r)
	}
}

// skipProblem checks r's skip pointer: its version must be the one
// segment.NextSkip gives and it must land on that version of r's stream.
// r follows c in a valid chain, so r.Version >= 1.
//
// In a stream compaction removed records of (gapped), appends fall back to
// a skip pointer to the previous record where the format's target is gone,
// and later pointers follow from those: there any earlier version will do,
// as long as the pointer lands on it.
func (v *verifier) skipProblem(c *streamChain, r *segment.Record) string {
	want := skipVersionFor(uint64(r.Version))
	if c.gapped && r.Skip != segment.NoPosition && r.SkipVersion < uint64(r.Version) {
		want = r.SkipVersion
	}
	if r.Skip == segment.NoPosition || r.SkipVersion != want {
		return fmt.Sprintf("stream %q version %d: skip pointer to version %d (position %#x), but the format puts it at version %d",
			r.Stream, r.Version, r.SkipVersion, r.Skip, want)
	}
	if want == uint64(c.version) { // the previous record: no need to read it
		if r.Skip != c.tail {
			return fmt.Sprintf("stream %q version %d: skip pointer to %s, but version %d is at position %d",
				r.Stream, r.Version, v.describe(r.Skip), want, c.tail)
		}
		return ""
	}
	if v.isLost(r.Skip) {
		return ""
	}
	// Peek is enough: the target lies earlier in the log, where the scan
	// verified (or reported) it already.
	if s, off, ok := v.locate(r.Skip); ok {
		if _, err := segment.Peek(s.data, off, r.Skip, &v.peek); err == nil &&
			v.peek.Version == int64(want) && bytes.Equal(v.peek.Stream, r.Stream) {
			return ""
		}
	}
	return fmt.Sprintf("stream %q version %d: skip pointer leads to %s, not to version %d of the stream",
		r.Stream, r.Version, v.describe(r.Skip), want)
}

// describe says what lies at log position pos, for problem reports.
func (v *verifier) describe(pos uint64) string {
	if pos == segment.NoPosition {
		return "nothing (no back-pointer)"
	}
	s, off, ok := v.locate(pos)
	if !ok {
		return fmt.Sprintf("position %d, in no readable segment", pos)
	}
	if _, err := segment.Peek(s.data, off, pos, &v.peek); err != nil {
		return fmt.Sprintf("position %d (%s offset %d), where no record starts", pos, s.name, off)
	}
	return fmt.Sprintf("position %d (%s offset %d), a record of stream %q version %d", pos, s.name, off, v.peek.Stream, v.peek.Version)
}

// skipVersionFor is the version the skip pointer of a record of version
// v >= 1 targets: the closed form of segment.NextSkip's recurrence. Its
// jumps are skew-binary terms (2^k - 1): the jump from v is the smallest
// term of v's greedy skew-binary decomposition. Computing it from v alone
// lets Verify check every skip version without keeping the stream's
// earlier records.
func skipVersionFor(v uint64) uint64 {
	rest, term := v, uint64(0)
	for rest > 0 {
		term = 1<<(bits.Len64(rest+1)-1) - 1
		rest -= term
	}
	return v - term
}
