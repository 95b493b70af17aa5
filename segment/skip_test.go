package segment_test

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/spooldb/spool/segment"
)

// chain is one stream's records, index = version, built as the writer
// builds them.
type chain struct {
	recs []segment.Record
}

func (c *chain) at(t testing.TB, pos uint64) *segment.Record {
	i, ok := slices.BinarySearchFunc(c.recs, pos, func(r segment.Record, p uint64) int {
		switch {
		case r.Position < p:
			return -1
		case r.Position > p:
			return 1
		}
		return 0
	})
	if !ok {
		t.Fatalf("no record of the stream at position %d", pos)
	}
	return &c.recs[i]
}

// buildChain makes an n-record stream whose records lie at increasing,
// irregular positions (other streams' records in between).
func buildChain(t testing.TB, rng *rand.Rand, n int) *chain {
	c := &chain{recs: make([]segment.Record, 0, n)}
	pos := uint64(rng.IntN(1<<20)) &^ 7
	for v := range n {
		r := segment.Record{Position: pos, Version: int64(v), Prev: segment.NoPosition, Skip: segment.NoPosition}
		if v > 0 {
			parent := &c.recs[v-1]
			var skipOfParent *segment.Record
			if parent.Skip != segment.NoPosition {
				skipOfParent = c.at(t, parent.Skip)
			}
			r.Prev = parent.Position
			r.Skip, r.SkipVersion = segment.NextSkip(parent, skipOfParent)
		}
		c.recs = append(c.recs, r)
		pos += 8 * uint64(13+rng.IntN(100))
	}
	return c
}

func TestSkipPointersPointBackwards(t *testing.T) {
	rng := newRand(t, 30)
	c := buildChain(t, rng, 20000)
	for v := 1; v < len(c.recs); v++ {
		r := &c.recs[v]
		if r.Skip == segment.NoPosition {
			t.Fatalf("version %d has no skip pointer", v)
		}
		if r.Skip >= r.Position || r.SkipVersion >= uint64(r.Version) {
			t.Fatalf("version %d: skip %d (v%d) is not older than %d", v, r.Skip, r.SkipVersion, r.Position)
		}
		if tgt := c.at(t, r.Skip); uint64(tgt.Version) != r.SkipVersion {
			t.Fatalf("version %d: skip version %d, record there has version %d", v, r.SkipVersion, tgt.Version)
		}
		// A record the writer produces passes Decode's checks.
		r.Stream = []byte("s")
		buf := make([]byte, segment.EncodedLen(1, 0, 0, 0))
		if _, err := segment.Encode(buf, r); err != nil {
			t.Fatal(err)
		}
		var got segment.Record
		if _, err := segment.Decode(buf, 0, r.Position, &got); err != nil {
			t.Fatalf("version %d as written does not decode: %v", v, err)
		}
		r.Stream = nil
	}
}

// The first skip targets, derived by hand from Myers' rule: jumps of
// skew-binary lengths 1, 3, 7, 15.
func TestSkipVersionsSmall(t *testing.T) {
	want := map[int]uint64{1: 0, 2: 1, 3: 0, 4: 3, 5: 4, 6: 3, 7: 0, 8: 7, 9: 8, 10: 7, 11: 10, 12: 11, 13: 10, 14: 7, 15: 0,
		16: 15, 17: 16, 18: 15, 19: 18, 20: 19, 21: 18, 22: 15, 23: 22, 29: 22, 30: 15, 31: 0, 32: 31}
	c := buildChain(t, newRand(t, 31), 40)
	for v, sv := range want {
		if got := c.recs[v].SkipVersion; got != sv {
			t.Errorf("version %d skips to version %d, want %d", v, got, sv)
		}
	}
}

func seekBound(n int) int {
	return 3*bits.Len(uint(n)) + 3 // bits.Len(n) == ceil(log2(n+1))
}

// seek walks from version from to version target with SeekStep and returns
// the number of steps.
func seek(t testing.TB, c *chain, from, target int, bound int) int {
	cur := &c.recs[from]
	steps := 0
	for cur.Version != int64(target) {
		next := segment.SeekStep(cur, int64(target))
		if next == segment.NoPosition {
			t.Fatalf("seek %d -> %d: fell off the chain at version %d", from, target, cur.Version)
		}
		cur = c.at(t, next)
		steps++
		if cur.Version < int64(target) {
			t.Fatalf("seek %d -> %d: overshot to version %d", from, target, cur.Version)
		}
		if steps > bound {
			t.Fatalf("seek %d -> %d: more than %d steps", from, target, bound)
		}
	}
	if cur != &c.recs[target] {
		t.Fatalf("seek %d -> %d: arrived at the wrong record", from, target)
	}
	return steps
}

func TestSeekStepLogarithmic(t *testing.T) {
	rng := newRand(t, 32)
	// Every pair on small chains.
	for _, n := range []int{1, 2, 3, 7, 8, 9, 100} {
		c := buildChain(t, rng, n)
		for from := range n {
			for target := 0; target <= from; target++ {
				seek(t, c, from, target, seekBound(n))
			}
		}
	}
	// Sampled pairs on big chains; the tail-to-anywhere seeks (a reader
	// starting from the index's tail) and the worst cases found.
	for _, n := range []int{1000, 4097, 100000} {
		c := buildChain(t, rng, n)
		bound := seekBound(n)
		worst := 0
		for range 3000 {
			from := rng.IntN(n)
			target := rng.IntN(from + 1)
			worst = max(worst, seek(t, c, from, target, bound))
		}
		for target := 0; target < n; target += 1 + rng.IntN(n/200+1) {
			worst = max(worst, seek(t, c, n-1, target, bound))
		}
		// Targets right next to a long jump's landing point.
		for k := 1; 1<<k <= n; k++ {
			for _, target := range []int{1<<k - 2, 1<<k - 1, 1 << k} {
				if target < n {
					worst = max(worst, seek(t, c, n-1, target, bound))
				}
			}
		}
		t.Logf("n=%d: worst seek %d steps, bound %d", n, worst, bound)
	}
}

func TestSeekStepTakesPrevWhenSkipOvershoots(t *testing.T) {
	r := &segment.Record{Position: 1000, Version: 10, Prev: 900, Skip: 100, SkipVersion: 3}
	if got := segment.SeekStep(r, 3); got != 100 {
		t.Fatalf("skip lands on the target: got %d, want 100", got)
	}
	if got := segment.SeekStep(r, 2); got != 100 {
		t.Fatalf("skip stays above the target: got %d, want 100", got)
	}
	if got := segment.SeekStep(r, 4); got != 900 {
		t.Fatalf("skip would overshoot: got %d, want prev 900", got)
	}
	r.Skip = segment.NoPosition
	if got := segment.SeekStep(r, 0); got != 900 {
		t.Fatalf("no skip: got %d, want prev 900", got)
	}
}
