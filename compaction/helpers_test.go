package compaction_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// rec is one record written to a test segment.
type rec struct {
	pos uint64
	raw []byte // padded bytes, as written
}

// seg is one segment file of a test log: its name, range and records, and
// the bytes of the whole file as created.
type seg struct {
	name      string
	base, end uint64
	recs      []rec
	image     []byte
}

// logFixture is a log of sealed segments followed by the active one, in a
// simulated directory, every file durable.
type logFixture struct {
	fs     *simfs.FS
	segs   []seg // sealed, then the active one last
	sealed int
}

// compacted replaces segs[from:to] with the compacted segment res, as
// the directory now holds it.
func (lf *logFixture) compacted(t testing.TB, from, to int, keep compaction.Keep, res compaction.Result) {
	t.Helper()
	s := seg{name: res.Name, base: res.Base, end: res.End, recs: kept(t, lf.segs[from:to], keep), image: bytes.Clone(res.File.Bytes())}
	lf.segs = slices.Replace(lf.segs, from, to, s)
	lf.sealed -= to - from - 1
}

// newLog writes sealed segments of about fill bytes of records each, then
// an active segment with a few records.
func newLog(t testing.TB, seed uint64, sealed int, fill int) *logFixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	lf := &logFixture{fs: simfs.New(simfs.Config{Seed: seed}), sealed: sealed}
	base := uint64(1 << 20)
	for i := 0; i <= sealed; i++ {
		n := fill
		if i == sealed {
			n = 600
		}
		s := writeSegment(t, lf.fs, rng, base, n)
		lf.segs = append(lf.segs, s)
		base = s.end
	}
	if err := lf.fs.SyncDir(); err != nil {
		t.Fatal(err)
	}
	return lf
}

// writeSegment writes an ordinary segment at base with records (batches of
// one to three) until about fill bytes are used, and syncs it.
func writeSegment(t testing.TB, fsys mmapfile.FS, rng *rand.Rand, base uint64, fill int) seg {
	t.Helper()
	name := segment.FileName(base)
	size := int64(fill) + 8192 // room for the last batch, and zeros after it
	f, err := fsys.Create(name, size)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := f.Bytes()
	segment.PutHeader(b, segment.Header{Base: base, Size: uint64(size), Created: 1})
	s := seg{name: name, base: base}
	off := int64(segment.HeaderSize)
	for off-segment.HeaderSize < int64(fill) {
		k := 1 + rng.IntN(3)
		for j := range k {
			r := &segment.Record{
				Position: base + uint64(off-segment.HeaderSize),
				Prev:     segment.NoPosition, Skip: segment.NoPosition,
				Version: rng.Int64N(100), Timestamp: rng.Int64(),
				Stream: fmt.Appendf(nil, "stream-%d", rng.IntN(8)),
				Type:   []byte("t"),
				Data:   randBytes(rng, 1+rng.IntN(200)),
			}
			if j < k-1 {
				r.Flags = segment.FlagContinues
			}
			n, err := segment.Encode(b[off:], r)
			if err != nil {
				t.Fatal(err)
			}
			s.recs = append(s.recs, rec{r.Position, bytes.Clone(b[off : off+int64(n)])})
			off += int64(n)
		}
	}
	s.end = base + uint64(off-segment.HeaderSize)
	if err := f.Sync(0, size); err != nil {
		t.Fatal(err)
	}
	s.image = bytes.Clone(b)
	return s
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// keepEven keeps the records whose first data byte is even: about half.
func keepEven(r *segment.Record) bool { return r.Data[0]%2 == 0 }

func keepNone(*segment.Record) bool { return false }

// kept returns the records of segs that keep keeps, by decoding each.
func kept(t testing.TB, segs []seg, keep compaction.Keep) []rec {
	t.Helper()
	var out []rec
	for _, s := range segs {
		for _, r := range s.recs {
			var d segment.Record
			if _, err := segment.Decode(r.raw, 0, r.pos, &d); err != nil {
				t.Fatal(err)
			}
			if keep(&d) {
				out = append(out, r)
			}
		}
	}
	return out
}

// sources opens segs[from:to] of the log in fsys as a run.
func (lf *logFixture) sources(t testing.TB, fsys mmapfile.FS, from, to int) []compaction.Source {
	t.Helper()
	var run []compaction.Source
	for _, s := range lf.segs[from:to] {
		f, err := fsys.Open(s.name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		run = append(run, compaction.Source{Name: s.name, Base: s.base, End: s.end, File: f})
	}
	return run
}

// expectation is what a directory must hold after a compaction of
// run (indices into lf.segs) either never happened or completed.
type expectation struct {
	lf       *logFixture
	from, to int
	kept     []rec             // the records the compacted file must hold
	before   map[string][]byte // the files of the old state, by name
}

func (lf *logFixture) expect(t testing.TB, from, to int, keep compaction.Keep) *expectation {
	before := make(map[string][]byte)
	for _, s := range lf.segs {
		before[s.name] = s.image
	}
	return &expectation{lf: lf, from: from, to: to, kept: kept(t, lf.segs[from:to], keep), before: before}
}

// check checks the invariant: fsys holds either exactly the old files,
// unchanged, or the compacted file in place of the run and the other
// files unchanged; no temp file; every position of the log covered by
// exactly one file. It returns whether the compaction is in effect.
func (e *expectation) check(t testing.TB, fsys mmapfile.FS) bool {
	t.Helper()
	names, err := fsys.List()
	if err != nil {
		t.Fatal(err)
	}
	var old, compacted []string
	for name := range e.before {
		old = append(old, name)
	}
	slices.Sort(old)
	for _, s := range e.lf.segs {
		if !e.inRun(s.name) || s.name == e.lf.segs[e.from].name {
			compacted = append(compacted, s.name)
		}
	}
	var isNew bool
	switch {
	case slices.Equal(names, old):
	case slices.Equal(names, compacted):
		isNew = true
	default:
		t.Fatalf("directory holds %v: neither the old files %v nor the compacted state %v", names, old, compacted)
	}
	if e.to-e.from == 1 {
		// The names alone do not tell: the file changed or not.
		isNew = !e.unchanged(t, fsys, e.lf.segs[e.from].name)
	}
	next := e.lf.segs[0].base
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		b := f.Bytes()
		h, err := segment.ReadHeader(b, f.Size())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h.Base != next {
			t.Fatalf("%s starts at %d, the previous file ends at %d", name, h.Base, next)
		}
		if isNew && name == e.lf.segs[e.from].name {
			e.checkCompacted(t, b, h)
			next = h.End
		} else {
			if !bytes.Equal(b, e.before[name]) {
				t.Fatalf("%s changed", name)
			}
			next = e.endOf(name)
		}
		_ = f.Close()
	}
	if last := e.lf.segs[len(e.lf.segs)-1]; next != last.end {
		t.Fatalf("the files cover the log up to %d, it ends at %d", next, last.end)
	}
	return isNew
}

func (e *expectation) inRun(name string) bool {
	for _, s := range e.lf.segs[e.from:e.to] {
		if s.name == name {
			return true
		}
	}
	return false
}

func (e *expectation) endOf(name string) uint64 {
	for _, s := range e.lf.segs {
		if s.name == name {
			return s.end
		}
	}
	panic("no segment " + name)
}

func (e *expectation) unchanged(t testing.TB, fsys mmapfile.FS, name string) bool {
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return bytes.Equal(f.Bytes(), e.before[name])
}

// checkCompacted checks the compacted file b: its range is the run's, it
// holds exactly the kept records, byte for byte at their positions, and
// finds none of the dropped ones.
func (e *expectation) checkCompacted(t testing.TB, b []byte, h segment.Header) {
	t.Helper()
	base, end := e.lf.segs[e.from].base, e.lf.segs[e.to-1].end
	if !h.Compacted() || h.Base != base || h.End != end {
		t.Fatalf("compacted header %+v, want the range [%d, %d)", h, base, end)
	}
	m, err := segment.LoadPositionMap(b, h)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != len(e.kept) {
		t.Fatalf("compacted file holds %d records, want %d", m.Len(), len(e.kept))
	}
	live := make(map[uint64]bool)
	var r segment.Record
	for _, k := range e.kept {
		live[k.pos] = true
		off, ok := m.Find(k.pos)
		if !ok {
			t.Fatalf("kept record at %d not found", k.pos)
		}
		n, err := segment.Decode(b, off, k.pos, &r)
		if err != nil || !bytes.Equal(b[off:off+int64(n)], k.raw) {
			t.Fatalf("kept record at %d differs from the original (%v)", k.pos, err)
		}
	}
	for _, s := range e.lf.segs[e.from:e.to] {
		for _, x := range s.recs {
			if _, ok := m.Find(x.pos); ok != live[x.pos] {
				t.Fatalf("Find(%d) = %v, kept: %v", x.pos, ok, live[x.pos])
			}
		}
	}
}

// noTemp fails if fsys holds a compaction temp file.
func noTemp(t testing.TB, fsys mmapfile.FS) {
	t.Helper()
	names, err := fsys.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, ok := segment.ParseFileName(n); !ok {
			t.Fatalf("stray file %s", n)
		}
	}
}

func wantCorrupt(t testing.TB, err error, name string, off int64) {
	t.Helper()
	var ce *segment.CorruptionError
	if !errors.As(err, &ce) || ce.Segment != name || ce.Offset != off {
		t.Fatalf("error %v, want corruption in %s at %d", err, name, off)
	}
}
