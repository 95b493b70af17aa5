package recovery

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

const fixtureSegSize = 64 << 10

// standardFixture is five streams, batches of 1 to 3 events, over three
// segments.
func standardFixture(t *testing.T) *fixture {
	f := newFixture(t, fixtureSegSize)
	for i := range 750 {
		f.append(fmt.Sprintf("s%d", i%5), 1+i%3)
	}
	if len(f.files) != 3 {
		t.Fatalf("fixture has %d segments, want 3", len(f.files))
	}
	return f
}

func verifyT(t *testing.T, dir string) VerifyReport {
	t.Helper()
	rep, err := Verify(dir, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func TestSkipVersionForMatchesNextSkip(t *testing.T) {
	// A chain built with segment.NextSkip, positions standing in for versions.
	recs := []segment.Record{{Position: 0, Prev: segment.NoPosition, Skip: segment.NoPosition}}
	for v := int64(1); v < 100000; v++ {
		p := &recs[v-1]
		var sop *segment.Record
		if p.Skip != segment.NoPosition {
			sop = &recs[p.Skip]
		}
		skip, sv := segment.NextSkip(p, sop)
		if skip != sv {
			t.Fatalf("v%d: skip position %d is not version %d", v, skip, sv)
		}
		if got := skipVersionFor(uint64(v)); got != sv {
			t.Fatalf("skipVersionFor(%d) = %d, NextSkip says %d", v, got, sv)
		}
		recs = append(recs, segment.Record{Position: uint64(v), Version: v, Prev: uint64(v - 1), Skip: skip, SkipVersion: sv})
	}
}

func TestVerifyClean(t *testing.T) {
	f := standardFixture(t)
	f.close(true)
	before := snapshot(t, f.dir)

	var calls [][2]int64
	rep, err := Verify(f.dir, &VerifyOptions{Progress: func(done, total int64) { calls = append(calls, [2]int64{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("problems in a clean store: %v", rep.Problems)
	}
	want := VerifyReport{Segments: 3, FileBytes: 3 * fixtureSegSize, Records: int64(len(f.order)), Bytes: f.bytes,
		Streams: 5, LogEnd: f.end, IndexChecked: true, IndexEntries: 5}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report\n%+v\nwant\n%+v", rep, want)
	}
	if len(calls) < 10 || calls[len(calls)-1] != [2]int64{3 * fixtureSegSize, 3 * fixtureSegSize} {
		t.Fatalf("progress calls %v, want the last to be done == total", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] {
			t.Fatalf("progress went back: %v", calls)
		}
	}
	if after := snapshot(t, f.dir); !reflect.DeepEqual(before, after) {
		t.Fatal("Verify changed the directory")
	}
}

// where is a problem's location.
type where struct {
	seg string
	off int64
}

func TestVerifyFaults(t *testing.T) {
	cases := []struct {
		name   string
		fault  func(f *fixture) []where // injects the fault, returns where it must be reported
		reason string                   // in the first problem's text
	}{
		{"flipped byte in a record body", func(f *fixture) []where {
			r := f.find("s2", 100)
			f.patch(r.seg, func(b []byte) { b[r.off+segment.RecordHeaderSize+4] ^= 0x10 })
			return []where{{r.seg, r.off}}
		}, "checksum mismatch"},
		{"back-pointer to another stream's record", func(f *fixture) []where {
			r, other := f.find("s1", 200), f.find("s3", 150)
			f.rewrite(r, func(x *segment.Record) { x.Prev = other.pos })
			return []where{{r.seg, r.off}}
		}, `a record of stream "s3" version 150`},
		{"version gap", func(f *fixture) []where {
			r, _ := f.last("s4")
			f.rewrite(r, func(x *segment.Record) { x.Version += 2 })
			// The chain breaks there, and the index (right about the
			// chain) disagrees with that record.
			return []where{{r.seg, r.off}, {r.seg, r.off}}
		}, "versions must be contiguous"},
		{"skip pointer to the wrong version", func(f *fixture) []where {
			r := f.find("s0", 6) // skips to version 3
			wrong := f.find("s0", 4)
			f.rewrite(r, func(x *segment.Record) { x.Skip = wrong.pos })
			return []where{{r.seg, r.off}}
		}, "skip pointer leads to"},
		{"index entry pointing at an older record", func(f *fixture) []where {
			_, older := f.last("s3")
			putEntry(f, "s3", hashindex.Entry{Tail: older.pos, Version: older.version, State: hashindex.Live}, true)
			return []where{{older.seg, older.off}}
		}, "newest record is version"},
		{"zeroed record header inside the last segment", func(f *fixture) []where {
			r := f.order[len(f.order)-40]
			f.patch(r.seg, func(b []byte) { clear(b[r.off : r.off+segment.RecordHeaderSize]) })
			return []where{{r.seg, r.off}}
		}, "zeroed record header inside the log"},
		{"missing middle segment", func(f *fixture) []where {
			if err := os.Remove(filepath.Join(f.dir, f.names[1])); err != nil {
				t.Fatal(err)
			}
			return []where{{f.names[0], f.segEnd[0]}}
		}, "bytes of the log are missing"},
		{"damaged segment header", func(f *fixture) []where {
			f.patch(f.names[1], func(b []byte) { b[40] ^= 1 })
			return []where{{f.names[1], 0}}
		}, "header checksum mismatch"},
	}
	// With one segment mapped at a time, as in a store far larger than a
	// 32-bit address space (capped by count or by bytes), the findings are
	// the same.
	for _, c := range cases {
		for _, o := range []VerifyOptions{{}, {MaxMappedSegments: 1}, {MaxMappedBytes: fixtureSegSize}} {
			t.Run(fmt.Sprintf("%s/mapped=%d,bytes=%d", c.name, o.MaxMappedSegments, o.MaxMappedBytes), func(t *testing.T) {
				verifyFault(t, c.fault, c.reason, &o)
			})
		}
	}
}

// verifyFault injects fault into the standard fixture and checks that
// Verify with opts reports it where fault says, with reason first.
func verifyFault(t *testing.T, fault func(f *fixture) []where, reason string, opts *VerifyOptions) {
	f := standardFixture(t)
	f.close(true)
	want := fault(f)
	rep, err := Verify(f.dir, opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var got []where
	for _, p := range rep.Problems {
		var ce *segment.CorruptionError
		if !errors.As(p, &ce) || !errors.Is(p, segment.ErrCorrupt) {
			t.Fatalf("problem %v is not a *segment.CorruptionError", p)
		}
		got = append(got, where{ce.Segment, ce.Offset})
	}
	if !slices.Equal(got, want) || rep.MoreProblems != 0 {
		t.Fatalf("problems at %v, want %v:\n%s", got, want, problemText(rep))
	}
	if !strings.Contains(rep.Problems[0].Error(), reason) {
		t.Fatalf("problem %q does not say %q", rep.Problems[0], reason)
	}
}

func problemText(rep VerifyReport) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "  %v\n", p)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return b.String()
}

// putEntry overwrites stream's index entry and flushes the index.
func putEntry(f *fixture, stream string, e hashindex.Entry, clean bool) {
	f.t.Helper()
	fsys, err := mmapfile.OpenDir(f.dir, mmapfile.PrepFallocate)
	if err != nil {
		f.t.Fatal(err)
	}
	ix, err := hashindex.Open(fsys, DefaultIndexName)
	if err != nil {
		f.t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Put(hashindex.FingerprintString(stream), e, nil); err != nil {
		f.t.Fatal(err)
	}
	if err := ix.Flush(f.end, 0, clean); err != nil {
		f.t.Fatal(err)
	}
}

func TestVerifyDirtyIndexNotCompared(t *testing.T) {
	f := standardFixture(t)
	f.close(true)
	_, older := f.last("s3")
	putEntry(f, "s3", hashindex.Entry{Tail: older.pos, Version: older.version, State: hashindex.Live}, false)
	rep := verifyT(t, f.dir)
	if !rep.OK() || !rep.IndexDirty || rep.IndexChecked || rep.IndexEntries != 0 {
		t.Fatalf("dirty index: %+v\n%s", rep, problemText(rep))
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "unclean shutdown") {
		t.Fatalf("notes %q do not say why the index was not compared", rep.Notes)
	}
}

func TestVerifyTornTail(t *testing.T) {
	f := standardFixture(t)
	f.close(false)
	last := f.names[len(f.names)-1]
	off := f.segEnd[len(f.segEnd)-1]
	// A torn write of an unacknowledged group: a record claiming nothing
	// more durable than the end, then garbage.
	f.patch(last, func(b []byte) {
		r := segment.Record{Position: f.end, Prev: segment.NoPosition, Skip: segment.NoPosition, SyncedThrough: f.end,
			Flags: segment.FlagContinues, Stream: []byte("x"), Type: []byte("t")}
		n, err := segment.Encode(b[off:], &r)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			b[off+int64(n)+int64(i)] = byte(i | 1)
		}
	})
	rep := verifyT(t, f.dir)
	if !rep.OK() || rep.TornBytes != 104+8+300 || rep.LogEnd != f.end || rep.Records != int64(len(f.order)) {
		t.Fatalf("torn tail: %+v\n%s", rep, problemText(rep))
	}

	// The same bytes below the index checkpoint are damage.
	putEntry(f, "s0", hashindex.Entry{Tail: f.heads["s0"].Position, Version: f.heads["s0"].Version, State: hashindex.Live}, false)
	fsys, _ := mmapfile.OpenDir(f.dir, mmapfile.PrepFallocate)
	ix, err := hashindex.Open(fsys, DefaultIndexName)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(f.end+200, 0, false); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	rep = verifyT(t, f.dir)
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Error(), fmt.Sprintf("%s at offset %d", last, off+112)) {
		t.Fatalf("damage above the checkpoint: %+v\n%s", rep, problemText(rep))
	}
}

func TestVerifyLockedAndNotStore(t *testing.T) {
	f := standardFixture(t)
	f.close(true)
	lock, err := f.fs.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(f.dir, nil); !errors.Is(err, mmapfile.ErrLocked) {
		t.Fatalf("Verify of a locked store: %v, want ErrLocked", err)
	}
	lock.Close()
	verifyT(t, f.dir)

	empty := t.TempDir()
	if _, err := Verify(empty, nil); !errors.Is(err, ErrNotStore) {
		t.Fatalf("empty dir: %v", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("Verify created %v in an empty directory", ents)
	}
	missing := filepath.Join(empty, "nope")
	if _, err := Verify(missing, nil); !errors.Is(err, ErrNotStore) {
		t.Fatalf("missing dir: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Verify created the missing directory")
	}
}

func TestVerifyMaxProblems(t *testing.T) {
	f := standardFixture(t)
	f.close(true)
	// Every record of s1 from version 10 on claims to be two versions on.
	for _, r := range f.order {
		if r.stream == "s1" && r.version >= 10 && r.version%2 == 0 {
			f.rewrite(r, func(x *segment.Record) { x.Version += 2 })
		}
	}
	rep, err := Verify(f.dir, &VerifyOptions{MaxProblems: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 3 || rep.MoreProblems < 10 || rep.OK() {
		t.Fatalf("%d problems listed, %d more", len(rep.Problems), rep.MoreProblems)
	}
}
