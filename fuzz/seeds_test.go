package fuzz

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// Seed generators for the four targets. Each seed's name starts with the
// outcome it was built to reach (see TestSeedOutcomes).

// oneRecord encodes a record with the given fields at pos into a buffer
// with prefix zero bytes before it and a zero header after it.
func oneRecord(t testing.TB, prefix int, r segment.Record) []byte {
	t.Helper()
	buf := make([]byte, prefix+segment.EncodedLen(len(r.Stream), len(r.Type), len(r.Metadata), len(r.Data))+segment.RecordHeaderSize)
	if _, err := segment.Encode(buf[prefix:], &r); err != nil {
		t.Fatal(err)
	}
	return buf
}

func baseRecord(pos uint64) segment.Record {
	return segment.Record{
		Position: pos, Prev: segment.NoPosition, Skip: segment.NoPosition,
		Version: 0, Timestamp: 1_700_000_000_000_000_000, SyncedThrough: pos,
		Stream: []byte("orders-17"), Type: []byte("placed"), Data: []byte(`{"n":1}`), Metadata: []byte("m"),
	}
}

func recordSeeds(t testing.TB) []seed {
	const pos = 4096
	var out []seed
	add := func(name string, data []byte, off int64, p uint64, mode uint8) {
		out = append(out, seed{name, []any{data, off, p, mode}})
	}
	valid := oneRecord(t, 0, baseRecord(pos))
	rlen := len(valid) - segment.RecordHeaderSize
	add("ok-record", valid, 0, pos, 0)
	add("ok-record-behind-prefix", oneRecord(t, 24, baseRecord(pos)), 24, pos, 0)
	add("ok-position-from-data", valid, 0, 0, recPosFromData)
	r := baseRecord(1 << 40)
	r.Prev, r.Skip, r.SkipVersion, r.Version = 1<<39, 1<<30, 3, math.MaxInt64
	r.Flags = segment.FlagContinues // system records have no skip pointer
	add("ok-max-version-with-pointers", oneRecord(t, 8, r), 8, 1<<40, 0)
	r = baseRecord(pos)
	r.Type, r.Data, r.Metadata = nil, nil, nil
	add("ok-stream-only", oneRecord(t, 0, r), 0, pos, 0)
	r = baseRecord(pos)
	r.Data = bytes.Repeat([]byte("d"), 3000)
	add("ok-large-body", oneRecord(t, 0, r), 0, pos, 0)

	mutate := func(name string, mode uint8, fn func(b []byte)) {
		b := bytes.Clone(valid)
		fn(b)
		add(name, b, 0, pos, mode)
	}
	add("corrupt-empty-input", []byte{}, 0, 0, 0)
	add("corrupt-all-zeros", make([]byte, 256), 0, 0, 0)
	add("corrupt-all-ff", bytes.Repeat([]byte{0xff}, 256), 0, math.MaxUint64, recPosFromData)
	add("corrupt-negative-offset", valid, -8, pos, 0)
	add("corrupt-min-offset", valid, math.MinInt64, pos, 0)
	add("corrupt-max-offset", valid, math.MaxInt64, pos, 0)
	add("corrupt-offset-past-end", valid, int64(len(valid))+8, pos, 0)
	add("corrupt-header-cut-short", valid[:segment.RecordHeaderSize-1], 0, pos, 0)
	add("corrupt-truncated-body", valid[:rlen-8], 0, pos, 0)
	add("corrupt-wrong-position", valid, 0, pos+8, 0)
	add("corrupt-copied-elsewhere", append(make([]byte, 64), valid...), 64, pos+64, 0)
	mutate("corrupt-huge-size", recSeal, func(b []byte) { le.PutUint32(b[recordSize:], math.MaxUint32) })
	mutate("corrupt-size-below-header", recSeal, func(b []byte) { le.PutUint32(b[recordSize:], 8) })
	mutate("peek-zero-checksum", 0, func(b []byte) { le.PutUint64(b[recordCksum:], 0) })
	mutate("peek-flipped-body-bit", 0, func(b []byte) { b[segment.RecordHeaderSize+2] ^= 0x10 })
	mutate("peek-reserved-field-set", recSeal, func(b []byte) { b[82] = 1 })
	mutate("peek-dirty-padding", 0, func(b []byte) { b[rlen-1] = 0xaa }) // record is 7 bytes short of 8-alignment
	mutate("corrupt-lengths-do-not-add-up", recSeal, func(b []byte) { le.PutUint16(b[14:], 200) })
	mutate("corrupt-huge-data-length", recSeal, func(b []byte) { le.PutUint32(b[88:], math.MaxUint32) })
	mutate("corrupt-forward-back-pointer", recSeal, func(b []byte) { le.PutUint64(b[recordPrev:], pos+8) })
	mutate("corrupt-self-back-pointer", recSeal, func(b []byte) { le.PutUint64(b[recordPrev:], pos) })
	mutate("corrupt-skip-without-prev", recSeal, func(b []byte) {
		le.PutUint64(b[recordVers:], 5)
		le.PutUint64(b[recordSkip:], 8)
	})
	mutate("corrupt-synced-after-record", recSeal, func(b []byte) { le.PutUint64(b[recordSynced:], pos+1) })
	mutate("corrupt-unknown-flags", recSeal, func(b []byte) { b[13] = 0x80 })
	mutate("corrupt-negative-version", recSeal, func(b []byte) { b[recordVers+7] = 0x80 })
	mutate("corrupt-empty-stream", recSeal, func(b []byte) {
		// Move the stream's bytes into the event type so the lengths
		// still add up.
		le.PutUint16(b[80:], le.Uint16(b[80:])+le.Uint16(b[14:]))
		le.PutUint16(b[14:], 0)
	})
	return out
}

// scanBody returns the body (file bytes after the header) of a segment
// builder's image, trimmed to its records plus a zero header.
func scanBody(b *segBuilder) []byte {
	return bytes.Clone(b.used()[segment.HeaderSize:])
}

func scanSeeds(t testing.TB) []seed {
	var out []seed
	add := func(name string, b1, b2 []byte, base, gap, durable uint64, mode uint8) {
		out = append(out, seed{name, []any{b1, b2, base, gap, durable, mode}})
	}
	hdr := uint8(scanHeader)
	log := func(base uint64) *segBuilder {
		b := newSegBuilder(base, 64<<10)
		b.add(events(6, "a", "b", "c")...)
		b.add(evSpec{stream: "a", typ: "t", data: "batch-1", cont: true}, evSpec{stream: "b", typ: "t", data: "batch-2"})
		b.add(events(3, "d")...)
		return b
	}
	good := log(0)
	body := scanBody(good)
	add("ok-empty-segment", nil, nil, 0, 0, 0, hdr)
	add("ok-small-log", body, nil, 0, 0, 0, hdr)
	add("ok-small-log-padded", body, nil, 0, 0, 0, hdr|scanPad)
	add("ok-high-base", scanBody(log(1<<40)), nil, 1<<40, 0, 0, hdr|scanPad)
	add("ok-durable-at-end", body, nil, 0, 0, good.pos(), hdr)

	// A torn tail: the last batch lacks its last record, or its last
	// record is half written. Its records claim only what came before.
	torn := log(0)
	torn.add(evSpec{stream: "a", typ: "t", data: "torn-1", cont: true}, evSpec{stream: "e", typ: "t", data: "torn-2", cont: true})
	add("ok-incomplete-batch", scanBody(torn), nil, 0, 0, 0, hdr|scanPad)
	tb := scanBody(torn)
	half := len(tb) - segment.RecordHeaderSize - 40
	clear(tb[half:])
	tb[half-1] = 0 // keep it a torn write, not padding
	add("ok-torn-last-record", tb, nil, 0, 0, 0, hdr)

	// A record header torn across a 4 KiB page boundary: the first page
	// reached the disk, the second did not.
	pg := newSegBuilder(0, 64<<10)
	for pg.off+int64(segment.EncodedLen(1, 1, 0, 40)) <= 4096-60 {
		pg.add(evSpec{stream: "p", typ: "t", data: string(bytes.Repeat([]byte("x"), 40))})
	}
	pg.add(evSpec{stream: "p", typ: "t", data: string(bytes.Repeat([]byte("y"), 200))})
	pgb := scanBody(pg)
	clear(pgb[4096-segment.HeaderSize:])
	add("ok-header-torn-at-page-boundary", pgb, nil, 0, 0, 0, hdr|scanPad)

	// Damage below acknowledged data: a later record's synced-through
	// proves the cut bytes were durable.
	dmg := scanBody(good)
	dmg[200] ^= 0xff
	add("corrupt-damage-below-acknowledged", dmg, nil, 0, 0, 0, hdr)
	add("corrupt-durable-past-end", body, nil, 0, 0, good.pos()+8, hdr)
	copied := scanBody(good)
	first := segment.EncodedLen(1, 1, 0, len("event-0"))
	copy(copied[first:], copied[:first]) // record 0 copied over record 1
	add("corrupt-record-copied-from-another-position", copied, nil, 0, 0, 0, hdr)
	huge := scanBody(good)
	le.PutUint32(huge[first+recordSize:], math.MaxUint32-7)
	add("corrupt-huge-record-length", huge, nil, 0, 0, 0, hdr)

	// Semantic damage with valid checksums (scanSeal re-seals it).
	sealMut := func(name string, off int, fn func(b []byte)) {
		b := scanBody(good)
		fn(b[off:])
		add(name, b, nil, 0, 0, 0, hdr|scanSeal)
	}
	rec := func(i int) int { // body offset of record i of good (the first six are equal-sized)
		return i * first
	}
	sealMut("corrupt-back-pointer-to-other-stream", rec(4), func(b []byte) { le.PutUint64(b[recordPrev:], uint64(rec(2))) })
	sealMut("corrupt-version-gap", rec(3), func(b []byte) { le.PutUint64(b[recordVers:], 3) })
	sealMut("corrupt-stream-starts-above-zero", rec(0), func(b []byte) { le.PutUint64(b[recordVers:], 4) })
	sealMut("corrupt-forward-back-pointer", rec(3), func(b []byte) { le.PutUint64(b[recordPrev:], uint64(rec(5))) })
	sealMut("corrupt-cyclic-back-pointer", rec(3), func(b []byte) { le.PutUint64(b[recordPrev:], uint64(rec(3))) })
	sealMut("ok-sealed-unchanged", 0, func([]byte) {})

	// Two segments: continuous, with a gap, and with an empty second one.
	end := good.pos()
	next := newSegBuilder(end, 64<<10)
	next.continueFrom(good)
	next.add(events(4, "a", "z")...)
	add("ok-two-segments", body, scanBody(next), 0, end, 0, hdr|scanTwo)
	add("ok-empty-second-segment-removed", body, nil, 0, end+4096, 0, hdr|scanTwo|scanPad)
	add("corrupt-gap-between-segments", body, scanBody(next), 0, end+8, 0, hdr|scanTwo)
	add("corrupt-second-segment-first", scanBody(next), body, end, 1<<63, 0, hdr|scanTwo)

	// Whole files without a synthesized header.
	whole := bytes.Clone(good.used())
	segment.PutHeader(whole, segment.Header{Size: uint64(len(whole))})
	add("ok-whole-file", whole, nil, 0, 0, 0, 0)
	add("header-all-zeros", make([]byte, 4096), nil, 0, 0, 0, 0)
	add("header-all-ff", bytes.Repeat([]byte{0xff}, 4096), nil, 0, 0, 0, 0)
	add("header-shorter-than-header", whole[:100], nil, 0, 0, 0, 0)
	add("header-empty-file", nil, nil, 0, 0, 0, 0)
	bad := bytes.Clone(whole)
	copy(bad, "SPOOLIDX")
	add("header-wrong-magic", bad, nil, 0, 0, 0, scanSeal)
	bad = bytes.Clone(whole)
	le.PutUint32(bad[8:], 1<<24) // version 1 written big-endian
	add("header-big-endian-version", bad, nil, 0, 0, 0, scanSeal)
	bad = bytes.Clone(whole)
	le.PutUint64(bad[24:], 64<<10) // size of the file it was cut from
	add("header-size-mismatch", bad, nil, 0, 0, 0, scanSeal)
	bad = bytes.Clone(whole)
	le.PutUint64(bad[16:], math.MaxUint64-100)
	add("header-base-out-of-range", bad, nil, 0, 0, 0, scanSeal)
	bad = bytes.Clone(whole)
	bad[130] ^= 1
	add("header-checksum-mismatch-unsealed", bad[:segment.HeaderSize+8], nil, 0, 0, 0, 0)
	bad = bytes.Clone(whole)
	bad[5] ^= 1
	add("header-checksum-mismatch", bad, nil, 0, 0, 0, 0)
	return out
}

// buildIndex makes an index file with hashindex itself and returns its
// bytes.
func buildIndex(t testing.TB, slots uint64, streams int, fp func(i int) hashindex.Fingerprint) []byte {
	t.Helper()
	dir := t.TempDir()
	fs, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := hashindex.Create(fs, "index", slots)
	if err != nil {
		t.Fatal(err)
	}
	for i := range streams {
		e := hashindex.Entry{Tail: uint64(i) * 128, Version: int64(i), State: hashindex.State(1 + i%3)}
		if err := ix.Put(fp(i), e, func(hashindex.Entry) (bool, error) { return false, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Flush(uint64(streams)*128, 0, true); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func streamFP(i int) hashindex.Fingerprint {
	return hashindex.FingerprintString("stream-" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
}

func indexSeeds(t testing.TB) []seed {
	var out []seed
	add := func(name string, img []byte, probe uint64, mode uint8) {
		out = append(out, seed{name, []any{img, probe, mode}})
	}
	empty := buildIndex(t, 16, 0, streamFP)
	some := buildIndex(t, 16, 10, streamFP)
	grown := buildIndex(t, 16, 30, streamFP) // grew to 64 slots
	same := buildIndex(t, 32, 3, func(int) hashindex.Fingerprint { return hashindex.Fingerprint{Hi: 5, Lo: 7} })
	add("ok-empty", empty, 0, 0)
	add("ok-ten-streams", some, 3, 0)
	add("ok-ten-streams-put", some, 0x1234, idxPut)
	add("ok-grown", grown, 99, 0)
	add("ok-put-grows-at-load-limit", buildIndex(t, 16, 12, streamFP), 7, idxPut)
	add("ok-same-fingerprint-thrice", same, 5, idxPut)
	wrap := indexImage(16, 2, 0, true)
	// Two entries homed at the last slot: the second wraps to slot 0.
	putSlot(wrap[4096+15*48:], hashindex.Fingerprint{Hi: 15, Lo: 1}, hashindex.Entry{Tail: 1, State: hashindex.Live})
	putSlot(wrap[4096:], hashindex.Fingerprint{Hi: 31, Lo: 1}, hashindex.Entry{Tail: 2, State: hashindex.Live})
	sealIndex(wrap)
	add("ok-cluster-wraps-around", wrap, 15, idxPut)
	short := indexImage(32, 0, 0, true)[:4096]
	add("ok-fit-size-extends-file", short, 0, idxFitSize|idxSeal)

	mutate := func(name string, src []byte, mode uint8, fn func(b []byte)) {
		b := bytes.Clone(src)
		fn(b)
		add(name, b, 1, mode)
	}
	add("invalid-empty-file", []byte{}, 0, 0)
	add("invalid-all-zeros", make([]byte, 4096+16*48), 0, 0)
	add("invalid-all-ff", bytes.Repeat([]byte{0xff}, 4096+16*48), 0, idxSeal)
	add("invalid-header-truncated", some[:100], 0, 0)
	add("invalid-slots-truncated", some[:len(some)-48], 0, 0)
	add("invalid-trailing-bytes", append(bytes.Clone(some), 0), 0, 0)
	mutate("invalid-bad-magic", some, idxSeal, func(b []byte) { copy(b, "SPOOLSEG") })
	mutate("invalid-big-endian-writer", some, idxSeal, func(b []byte) {
		le.PutUint32(b[12:], 0x04030201)
		le.PutUint32(b[8:], 1<<24)
	})
	mutate("invalid-unknown-byte-order", some, idxSeal, func(b []byte) { le.PutUint32(b[12:], 7) })
	mutate("invalid-version-2", some, idxSeal, func(b []byte) { le.PutUint32(b[8:], 2) })
	mutate("invalid-header-checksum", some, 0, func(b []byte) { b[idxCkpt] ^= 1 })
	mutate("invalid-slots-not-power-of-two", some, idxSeal, func(b []byte) { le.PutUint64(b[idxSlots:], 24) })
	mutate("invalid-slots-below-minimum", some, idxSeal, func(b []byte) { le.PutUint64(b[idxSlots:], 8) })
	mutate("invalid-slots-huge", some, idxSeal, func(b []byte) { le.PutUint64(b[idxSlots:], 1<<56) })
	mutate("invalid-slots-past-limit", some, idxSeal|idxFitSize, func(b []byte) { le.PutUint64(b[idxSlots:], 1<<63) })
	mutate("invalid-slots-zero", some, idxSeal, func(b []byte) { le.PutUint64(b[idxSlots:], 0) })
	mutate("invalid-count-above-slots", some, idxSeal, func(b []byte) { le.PutUint64(b[idxCount:], 17) })
	mutate("invalid-clean-flag-2", some, idxSeal, func(b []byte) { le.PutUint32(b[idxClean:], 2) })
	mutate("invalid-reserved-header-field", some, idxSeal, func(b []byte) { b[50] = 1 })

	// Open accepts these; Validate (and Lookups that meet the slot) do not.
	slotAt := func(b []byte, i int) []byte { return b[4096+i*48 : 4096+(i+1)*48] }
	firstUsed := func(b []byte) int {
		for i := 0; ; i++ {
			if le.Uint64(slotAt(b, i)) != 0 {
				return i
			}
		}
	}
	u := firstUsed(some)
	mutate("damaged-torn-slot", some, 0, func(b []byte) { clear(slotAt(b, u)[24:]) })
	mutate("damaged-slot-bit-flip", some, 0, func(b []byte) { slotAt(b, u)[20] ^= 4 })
	mutate("damaged-invalid-state", some, idxSeal, func(b []byte) { slotAt(b, u)[slotState] = 9 })
	mutate("damaged-zero-state", some, idxSeal, func(b []byte) { slotAt(b, u)[slotState] = 0 })
	mutate("damaged-slot-reserved-bytes", some, idxSeal, func(b []byte) { slotAt(b, u)[42] = 1 })
	mutate("damaged-empty-slot-with-contents", some, 0, func(b []byte) {
		s := slotAt(b, u)
		clear(s[:16])
	})
	mutate("damaged-count-too-low", some, idxSeal, func(b []byte) { le.PutUint64(b[idxCount:], 3) })
	mutate("damaged-count-too-high", some, idxSeal, func(b []byte) { le.PutUint64(b[idxCount:], 16) })
	full := indexImage(16, 16, 0, true)
	for i := range 16 {
		putSlot(slotAt(full, i), hashindex.Fingerprint{Hi: uint64(i), Lo: 1}, hashindex.Entry{Tail: uint64(i), State: hashindex.Live})
	}
	add("damaged-full-table", full, 3, 0)
	unreachable := indexImage(16, 1, 0, true)
	putSlot(slotAt(unreachable, 6), hashindex.Fingerprint{Hi: 2, Lo: 1}, hashindex.Entry{Tail: 1, State: hashindex.Live})
	add("damaged-entry-past-empty-slot", unreachable, 2, 0)
	return out
}
