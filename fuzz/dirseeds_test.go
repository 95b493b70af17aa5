package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/segment"
)

// engineStore writes a store with the engine itself, closes it cleanly and
// returns its files (spares left out) with timestamps fixed, so that the
// generated seeds do not change from one regeneration to the next.
func engineStore(t testing.TB, fill func(s *engine.Store) error) []dirFile {
	t.Helper()
	dir := t.TempDir()
	// SyncEachCommit, so that records carry real synced-through positions
	// and recovery can tell damage from a torn tail.
	s, err := engine.Open(dir, &engine.Options{SegmentSize: 64 << 10, IndexSlots: hashindex.MinSlots})
	if err != nil {
		t.Fatal(err)
	}
	if err := fill(s); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []dirFile
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if base, ok := segment.ParseFileName(e.Name()); ok {
			normalizeSegment(data)
			files = append(files, dirFile{kind: kindSegment, arg: base, size: len(data), data: data})
		} else if e.Name() == "index" {
			files = append(files, dirFile{kind: kindIndex, size: len(data), data: data})
		}
	}
	return files
}

// normalizeSegment replaces the creation time and record timestamps of an
// engine-written segment with fixed values and re-seals it.
func normalizeSegment(b []byte) {
	le.PutUint64(b[segHdrCreate:], 1_700_000_000_000_000_000)
	sealSegmentHeader(b)
	for off := int64(segment.HeaderSize); off+segment.RecordHeaderSize <= int64(len(b)) && !segment.IsEnd(b[off:]); {
		size := int64(le.Uint32(b[off+recordSize:]))
		le.PutUint64(b[off+recordTime:], uint64(1_700_000_000_000_000_000+off))
		off += (size + 7) &^ 7
	}
	sealRecords(b, segment.HeaderSize)
}

func appendEvents(s *engine.Store, stream string, n, dataLen int) error {
	for i := range n {
		ev := engine.Event{Type: "t", Data: bytes.Repeat([]byte{byte('a' + i%26)}, dataLen)}
		if i%3 == 0 {
			ev.Metadata = []byte(fmt.Sprintf(`{"i":%d}`, i))
		}
		if _, err := s.Append(context.Background(), stream, engine.Any, ev); err != nil {
			return err
		}
	}
	return nil
}

func smallStore(s *engine.Store) error {
	for _, st := range []string{"a", "b", "c"} {
		if err := appendEvents(s, st, 8, 20); err != nil {
			return err
		}
	}
	// One batch of three events.
	_, err := s.Append(context.Background(), "b", 7, engine.Event{Type: "x"}, engine.Event{Type: "y"}, engine.Event{Type: "z"})
	return err
}

func multiStore(s *engine.Store) error {
	for i := range 20 {
		if err := appendEvents(s, []string{"a", "b"}[i%2], 1, 8<<10); err != nil {
			return err
		}
	}
	return appendEvents(s, "c", 3, 100)
}

// files helpers: a copy of a file set with changes.
func cloneFiles(fs []dirFile) []dirFile {
	out := make([]dirFile, len(fs))
	for i, f := range fs {
		f.data = bytes.Clone(f.data)
		out[i] = f
	}
	return out
}

func without(fs []dirFile, kind uint8, n int) []dirFile {
	var out []dirFile
	seen := 0
	for _, f := range fs {
		if f.kind == kind {
			seen++
			if seen == n || n == 0 {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

func fileOf(fs []dirFile, kind uint8, n int) *dirFile {
	seen := 0
	for i := range fs {
		if fs[i].kind == kind {
			seen++
			if seen == n {
				return &fs[i]
			}
		}
	}
	panic(fmt.Sprintf("no file %d of kind %d", n, kind))
}

// slotOf returns the index slot of a stream in an index image.
func slotOf(img []byte, stream string) []byte {
	fp := hashindex.FingerprintString(stream)
	for off := hashindex.HeaderSize; off+hashindex.SlotSize <= len(img); off += hashindex.SlotSize {
		s := img[off : off+hashindex.SlotSize]
		if le.Uint64(s) == fp.Hi && le.Uint64(s[8:]) == fp.Lo {
			return s
		}
	}
	panic("stream not in index: " + stream)
}

// handSegment wraps a segBuilder's image as a 64 KiB segment file.
func handSegment(b *segBuilder, flags uint8) dirFile {
	return dirFile{kind: kindSegment, flags: flags, arg: b.base, size: len(b.buf), data: bytes.Clone(b.buf)}
}

// recordOffsets lists the file offsets of a segment image's records.
func recordOffsets(b []byte) []int64 {
	var offs []int64
	for off := int64(segment.HeaderSize); off+segment.RecordHeaderSize <= int64(len(b)) && !segment.IsEnd(b[off:]); {
		offs = append(offs, off)
		off += (int64(le.Uint32(b[off+recordSize:])) + 7) &^ 7
	}
	return offs
}

func dirSeeds(t testing.TB) []seed {
	var out []seed
	add := func(name string, opts uint8, files ...dirFile) {
		out = append(out, seed{name, []any{encodeArchive(files...), opts}})
	}
	const noSync, each, interval, mapped = 0, 1, 2, 3

	small := engineStore(t, smallStore)
	multi := engineStore(t, multiStore)
	if len(multi) < 4 {
		t.Fatalf("multi-segment store has %d files, want segments and an index", len(multi))
	}
	add("clean-small-store", noSync, small...)
	add("clean-small-store-append", each|optAppend, small...)
	add("clean-small-store-mapped-append", mapped|optAppend, small...)
	add("rebuilt-small-store-without-index", interval|optAppend, without(small, kindIndex, 0)...)
	add("clean-multi-segment-store", noSync, multi...)
	add("rebuilt-multi-segment-without-index", each|optAppend, without(multi, kindIndex, 0)...)
	add("rebuilt-empty-directory", noSync|optAppend)

	mut := func(name string, opts uint8, src []dirFile, fn func(fs []dirFile) []dirFile) {
		add(name, opts, fn(cloneFiles(src))...)
	}
	idx := func(fs []dirFile) []byte { return fileOf(fs, kindIndex, 1).data }
	mut("replayed-unclean-index", noSync|optAppend, small, func(fs []dirFile) []dirFile {
		le.PutUint32(idx(fs)[idxClean:], 0)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("rebuilt-index-all-zeros", noSync, small, func(fs []dirFile) []dirFile {
		clear(idx(fs))
		return fs
	})
	mut("rebuilt-index-all-ff", noSync, small, func(fs []dirFile) []dirFile {
		for i := range idx(fs) {
			idx(fs)[i] = 0xff
		}
		return fs
	})
	mut("rebuilt-index-huge-slot-count", noSync, small, func(fs []dirFile) []dirFile {
		le.PutUint64(idx(fs)[idxSlots:], 1<<56)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("rebuilt-index-header-torn", noSync, small, func(fs []dirFile) []dirFile {
		idx(fs)[idxCount] ^= 0x40
		return fs
	})
	mut("clean-index-entry-points-at-other-stream", noSync|optAppend, small, func(fs []dirFile) []dirFile {
		copy(slotOf(idx(fs), "a")[16:32], slotOf(idx(fs), "b")[16:32]) // tail and version of b
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("clean-index-entry-wrong-version", noSync, small, func(fs []dirFile) []dirFile {
		le.PutUint64(slotOf(idx(fs), "c")[24:], 3)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("clean-index-entry-tail-past-log", noSync, small, func(fs []dirFile) []dirFile {
		le.PutUint64(slotOf(idx(fs), "c")[16:], 1<<40)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("clean-index-slot-torn", noSync, small, func(fs []dirFile) []dirFile {
		slotOf(idx(fs), "a")[30] ^= 1
		return fs
	})
	mut("corrupt-index-checkpoint-ahead-of-log", noSync|optAppend, small, func(fs []dirFile) []dirFile {
		ck := idx(fs)[idxCkpt:]
		le.PutUint64(ck, le.Uint64(ck)+4096)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("rebuilt-index-checkpoint-mid-record", noSync, small, func(fs []dirFile) []dirFile {
		ck := idx(fs)[idxCkpt:]
		le.PutUint64(ck, le.Uint64(ck)-16)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("corrupt-index-checkpoint-past-segment", noSync, small, func(fs []dirFile) []dirFile {
		le.PutUint64(idx(fs)[idxCkpt:], 1<<20)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	seg := func(fs []dirFile, n int) []byte { return fileOf(fs, kindSegment, n).data }
	mut("corrupt-segment-header-torn", noSync, small, func(fs []dirFile) []dirFile {
		seg(fs, 1)[20] ^= 1
		return fs
	})
	mut("corrupt-segment-truncated", noSync, small, func(fs []dirFile) []dirFile {
		f := fileOf(fs, kindSegment, 1)
		f.size, f.data = 32<<10, f.data[:32<<10]
		return fs
	})
	mut("corrupt-segment-name-does-not-match-base", noSync, small, func(fs []dirFile) []dirFile {
		fileOf(fs, kindSegment, 1).arg = 0x1000
		return fs
	})
	mut("corrupt-segment-big-endian-header", noSync, small, func(fs []dirFile) []dirFile {
		le.PutUint32(seg(fs, 1)[8:], 1<<24)
		fileOf(fs, kindSegment, 1).flags = arcSeal
		return fs
	})
	mut("corrupt-file-size-field-huge", noSync, small, func(fs []dirFile) []dirFile {
		fileOf(fs, kindSegment, 1).size = math.MaxInt32 // huge, and an int on 32-bit targets too
		return fs
	})
	add("corrupt-segment-all-zeros", noSync, dirFile{kind: kindSegment, size: 64 << 10})
	add("corrupt-segment-all-ff", noSync, dirFile{kind: kindSegment, size: 4096, data: bytes.Repeat([]byte{0xff}, 4096)})
	add("corrupt-empty-segment-file", noSync, dirFile{kind: kindSegment})
	mut("replayed-clean-index-last-record-damaged", noSync, small, func(fs []dirFile) []dirFile {
		// The clean index's header names the length of the record ending
		// at its checkpoint, which Open reads before it trusts the index:
		// damaged, it sends Open to Replay, which leaves damage below the
		// checkpoint to the reads. Open succeeds and the reads meet it.
		offs := recordOffsets(seg(fs, 1))
		seg(fs, 1)[offs[len(offs)-1]+segment.RecordHeaderSize] ^= 1
		return fs
	})
	mut("replayed-last-record-damaged-below-checkpoint", noSync, small, func(fs []dirFile) []dirFile {
		// Replay reads only the log after the checkpoint; the reads meet
		// the damage.
		offs := recordOffsets(seg(fs, 1))
		seg(fs, 1)[offs[len(offs)-1]+segment.RecordHeaderSize] ^= 1
		le.PutUint32(idx(fs)[idxClean:], 0)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("corrupt-last-record-damaged-index-unreplayable", noSync, small, func(fs []dirFile) []dirFile {
		// The count is off, so Replay refuses and Rebuild runs. To Rebuild,
		// damage in the last record looks like a torn tail, but the index
		// checkpoint says it was durable.
		offs := recordOffsets(seg(fs, 1))
		seg(fs, 1)[offs[len(offs)-1]+segment.RecordHeaderSize] ^= 1
		le.PutUint32(idx(fs)[idxClean:], 0)
		le.PutUint64(idx(fs)[idxCount:], le.Uint64(idx(fs)[idxCount:])+1)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("replayed-unclean-index-behind-log", each|optAppend, small, func(fs []dirFile) []dirFile {
		// The checkpoint lags the log by the last batch: Replay scans it.
		offs := recordOffsets(seg(fs, 1))
		ck := offs[len(offs)-3] - segment.HeaderSize
		le.PutUint64(idx(fs)[idxCkpt:], uint64(ck))
		le.PutUint32(idx(fs)[idxClean:], 0)
		fileOf(fs, kindIndex, 1).flags = arcSeal
		return fs
	})
	mut("corrupt-record-damaged-below-checkpoint", noSync, without(small, kindIndex, 0), func(fs []dirFile) []dirFile {
		seg(fs, 1)[segment.HeaderSize+200] ^= 0xff
		return fs
	})
	mut("corrupt-back-pointer-to-other-stream", noSync, without(small, kindIndex, 0), func(fs []dirFile) []dirFile {
		// Record 9 is stream b version 1; point it at a's version 0.
		b := seg(fs, 1)
		le.PutUint64(b[recordOffsets(b)[9]+recordPrev:], 0)
		fileOf(fs, kindSegment, 1).flags = arcSeal
		return fs
	})
	mut("corrupt-record-copied-from-another-position", noSync, without(small, kindIndex, 0), func(fs []dirFile) []dirFile {
		b := seg(fs, 1)
		n := (int64(le.Uint32(b[segment.HeaderSize+recordSize:])) + 7) &^ 7
		copy(b[segment.HeaderSize+n:], b[segment.HeaderSize:segment.HeaderSize+n])
		return fs
	})
	mut("corrupt-huge-record-length", noSync, without(small, kindIndex, 0), func(fs []dirFile) []dirFile {
		le.PutUint32(seg(fs, 1)[segment.HeaderSize+recordSize:], math.MaxUint32-7)
		fileOf(fs, kindSegment, 1).flags = arcSeal
		return fs
	})
	mut("clean-middle-segment-missing", noSync, multi, func(fs []dirFile) []dirFile { return without(fs, kindSegment, 2) })
	mut("corrupt-middle-segment-missing-no-index", noSync, without(multi, kindIndex, 0), func(fs []dirFile) []dirFile {
		return without(fs, kindSegment, 2)
	})
	mut("corrupt-first-segment-missing-no-index", noSync, without(multi, kindIndex, 0), func(fs []dirFile) []dirFile {
		return without(fs, kindSegment, 1)
	})
	mut("corrupt-last-segment-missing", noSync, multi, func(fs []dirFile) []dirFile {
		n := 0
		for _, f := range fs {
			if f.kind == kindSegment {
				n++
			}
		}
		return without(fs, kindSegment, n)
	})
	add("clean-with-stale-scratch-files", each|optAppend, append(cloneFiles(small),
		dirFile{kind: kindSpareReady, size: 4096},
		dirFile{kind: kindSpareTmp, size: 100, data: []byte("partial")},
		dirFile{kind: kindIndexTmp, size: 4096},
		dirFile{kind: kindJunk, size: 5, data: []byte("hello")})...)
	add("clean-with-ready-spare", noSync|optAppend, append(cloneFiles(small), dirFile{kind: kindSpareReady, size: 64 << 10})...)

	// Hand-made logs: a torn record header across a page boundary, and a
	// store whose files are sealed after semantic damage.
	pg := newSegBuilder(0, 64<<10)
	for pg.off < 4096-60 {
		pg.add(evSpec{stream: "p", typ: "t", data: "0123456789"})
	}
	pg.add(evSpec{stream: "p", typ: "t", data: string(bytes.Repeat([]byte("y"), 200))})
	clear(pg.buf[4096:])
	add("rebuilt-header-torn-at-page-boundary", noSync|optAppend, handSegment(pg, 0))
	hand := newSegBuilder(0, 64<<10)
	hand.add(events(12, "a", "b", "c")...)
	add("rebuilt-hand-made-log", each|optAppend, handSegment(hand, 0))
	// Segments of sizes the engine would not create but must open: header
	// only, not a multiple of 8, and one so full that the append rolls
	// into a prepared spare that holds garbage instead of zeros.
	add("rebuilt-header-only-segment-append", each|optAppend, dirFile{kind: kindSegment, flags: arcFixHeader, size: segment.HeaderSize})
	add("rebuilt-odd-size-segment-append", mapped|optAppend, dirFile{kind: kindSegment, flags: arcFixHeader, size: 1001})
	full := newSegBuilder(0, 4096)
	for full.off < 4096-300 {
		full.add(evSpec{stream: "f", typ: "t", data: "0123456789abcdef"})
	}
	add("rebuilt-full-segment-rolls-into-garbage-spare", noSync|optAppend, handSegment(full, 0),
		dirFile{kind: kindSpareReady, size: 64 << 10, data: bytes.Repeat([]byte{0xff}, 64<<10)})
	le.PutUint64(hand.buf[segment.HeaderSize+recordVers:], 7)
	add("corrupt-hand-made-stream-starts-at-7", noSync, handSegment(hand, arcSeal))
	return out
}
