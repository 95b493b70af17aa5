package segment_test

import (
	"bytes"
	"errors"
	"math"
	"math/bits"
	"runtime"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/segment"
)

// bodyLengths covers 1..5000 with every residue mod 8, exact multiples of 8,
// and the extremes.
func bodyLengths() []int {
	var ls []int
	for n := 1; n <= 40; n++ {
		ls = append(ls, n)
	}
	ls = append(ls, 63, 64, 65, 127, 128, 255, 256, 1000, 1024, 4095, 4096, 4097, 4992, 4993, 4999, 5000)
	return ls
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rng := newRand(t, 1)
	lengths := bodyLengths()
	for i := range 600 {
		var bl int
		if i < len(lengths) {
			bl = lengths[i]
		} else {
			bl = 1 + rng.IntN(5000)
		}
		pos := rng.Uint64N(1<<50) &^ 7
		want := randRecord(rng, pos, bl)

		n := segment.EncodedLen(len(want.Stream), len(want.Type), len(want.Metadata), len(want.Data))
		if n%8 != 0 || n < segment.RecordHeaderSize+bl || n >= segment.RecordHeaderSize+bl+8 {
			t.Fatalf("EncodedLen for body %d = %d", bl, n)
		}
		// Put the record at a random aligned offset in a buffer full of
		// garbage: padding must come out zero and nothing past the record
		// may be touched.
		off := int64(rng.IntN(64)) * 8
		seg := make([]byte, int(off)+n+64)
		fillGarbage(rng, seg)
		orig := bytes.Clone(seg)
		got, err := segment.Encode(seg[off:], want)
		if err != nil {
			t.Fatalf("Encode(body %d): %v", bl, err)
		}
		if got != n {
			t.Fatalf("Encode returned %d, EncodedLen %d", got, n)
		}
		if want.Len() != n || want.End() != pos+uint64(n) {
			t.Fatalf("encoded record Len %d End %d, want %d %d", want.Len(), want.End(), n, pos+uint64(n))
		}
		if !bytes.Equal(seg[:off], orig[:off]) || !bytes.Equal(seg[int(off)+n:], orig[int(off)+n:]) {
			t.Fatalf("Encode wrote outside [off, off+%d)", n)
		}
		size := segment.RecordHeaderSize + bl
		if int(le.Uint32(seg[off+8:])) != size {
			t.Fatalf("size field %d, want %d", le.Uint32(seg[off+8:]), size)
		}
		for i, c := range seg[int(off)+size : int(off)+n] {
			if c != 0 {
				t.Fatalf("body %d: padding byte %d is %#x, want 0", bl, i, c)
			}
		}
		if le.Uint16(seg[off+82:]) != 0 || le.Uint32(seg[off+92:]) != 0 {
			t.Fatalf("reserved fields not zeroed over garbage")
		}

		var r segment.Record
		dn, err := segment.Decode(seg, off, pos, &r)
		if err != nil {
			t.Fatalf("Decode(body %d, off %d): %v", bl, off, err)
		}
		if dn != n || r.Len() != n || r.End() != pos+uint64(n) {
			t.Fatalf("Decode returned %d, Len %d, End %d; want %d, %d, %d", dn, r.Len(), r.End(), n, n, pos+uint64(n))
		}
		if f := sameRecord(&r, want); f != "" {
			t.Fatalf("body %d: decoded %s differs", bl, f)
		}
		// Decoded bodies alias the segment and cannot be appended into
		// each other.
		for _, s := range [][]byte{r.Stream, r.Type, r.Metadata, r.Data} {
			if cap(s) != len(s) {
				t.Fatalf("decoded body slice has cap %d > len %d", cap(s), len(s))
			}
		}
		if &r.Stream[0] != &seg[off+segment.RecordHeaderSize] {
			t.Fatalf("Stream does not alias the segment")
		}
	}
}

func TestEncodeTooLarge(t *testing.T) {
	r := &segment.Record{Stream: []byte("s"), Data: make([]byte, 100), Prev: segment.NoPosition, Skip: segment.NoPosition}
	n := segment.EncodedLen(1, 0, 0, 100)
	dst := make([]byte, n-1)
	if _, err := segment.Encode(dst, r); !errors.Is(err, segment.ErrTooLarge) {
		t.Fatalf("Encode into %d bytes of a %d-byte record: %v, want ErrTooLarge", n-1, n, err)
	}
	if _, err := segment.Encode(make([]byte, n), r); err != nil {
		t.Fatalf("Encode into exactly %d bytes: %v", n, err)
	}
	big := &segment.Record{Stream: make([]byte, segment.MaxStreamLen+1)}
	if _, err := segment.Encode(make([]byte, 1<<17), big); !errors.Is(err, segment.ErrTooLarge) {
		t.Fatalf("stream of %d bytes: %v, want ErrTooLarge", len(big.Stream), err)
	}
	big = &segment.Record{Stream: []byte("s"), Type: make([]byte, segment.MaxTypeLen+1)}
	if _, err := segment.Encode(make([]byte, 1<<17), big); !errors.Is(err, segment.ErrTooLarge) {
		t.Fatalf("type of %d bytes: %v, want ErrTooLarge", len(big.Type), err)
	}
	maxRec := &segment.Record{Stream: make([]byte, segment.MaxStreamLen), Type: make([]byte, segment.MaxTypeLen),
		Prev: segment.NoPosition, Skip: segment.NoPosition}
	maxRec.Stream[0] = 1
	buf := make([]byte, segment.EncodedLen(segment.MaxStreamLen, segment.MaxTypeLen, 0, 0))
	if _, err := segment.Encode(buf, maxRec); err != nil {
		t.Fatalf("stream and type of the maximal length: %v", err)
	}
	var got segment.Record
	if _, err := segment.Decode(buf, 0, 0, &got); err != nil || len(got.Stream) != segment.MaxStreamLen || len(got.Type) != segment.MaxTypeLen {
		t.Fatalf("Decode of maximal lengths: %v (%d, %d)", err, len(got.Stream), len(got.Type))
	}
}

// encodeAt returns a segment image with r encoded at off (position pos),
// followed by tail zero bytes.
func encodeAt(t testing.TB, r *segment.Record, off int64, tail int) []byte {
	t.Helper()
	n := segment.EncodedLen(len(r.Stream), len(r.Type), len(r.Metadata), len(r.Data))
	seg := make([]byte, int(off)+n+tail)
	if _, err := segment.Encode(seg[off:], r); err != nil {
		t.Fatal(err)
	}
	return seg
}

func TestDecodeBitFlips(t *testing.T) {
	rng := newRand(t, 2)
	for _, bl := range []int{1, 7, 8, 13, 100, 333} {
		pos := uint64(1<<20) + 4096
		r := randRecord(rng, pos, bl)
		off := int64(segment.HeaderSize + 64)
		seg := encodeAt(t, r, off, 256)
		var got segment.Record
		if _, err := segment.Decode(seg, off, pos, &got); err != nil {
			t.Fatalf("intact record: %v", err)
		}
		size := segment.RecordHeaderSize + bl
		for bit := 0; bit < size*8; bit++ {
			b := bytes.Clone(seg)
			b[off+int64(bit/8)] ^= 1 << (bit % 8)
			n, err := segment.Decode(b, off, pos, &got)
			if err == nil {
				t.Fatalf("body %d: flip of bit %d (byte %d) not detected", bl, bit, bit/8)
			}
			if n != 0 {
				t.Fatalf("failed Decode returned length %d", n)
			}
			wantCorrupt(t, err, off)
		}
	}
}

func TestDecodeSize(t *testing.T) {
	rng := newRand(t, 3)
	pos := uint64(4096)
	r := randRecord(rng, pos, 50) // size 154, padded 160
	off := int64(segment.HeaderSize)
	seg := encodeAt(t, r, off, 0) // the segment ends right after the record
	n := r.Len()
	var got segment.Record
	if _, err := segment.Decode(seg, off, pos, &got); err != nil {
		t.Fatalf("intact record filling the segment exactly: %v", err)
	}
	if int64(len(seg)) != off+int64(n) {
		t.Fatal("test setup: record does not end the segment")
	}
	sizes := []uint32{0, 1, 8, segment.RecordHeaderSize - 1, // below a header
		uint32(n) + 1, uint32(n) + 8, 1 << 20, math.MaxUint32 - 7, math.MaxUint32} // past the end
	for _, size := range sizes {
		b := bytes.Clone(seg)
		le.PutUint32(b[off+8:], size)
		_, err := segment.Decode(b, off, pos, &got)
		wantCorrupt(t, err, off)
		// Even with a matching checksum (as far as one can be computed).
		if size >= 8 && int64(size) <= int64(len(b))-off {
			reseal(b[off:])
			_, err = segment.Decode(b, off, pos, &got)
			wantCorrupt(t, err, off)
		}
	}
	// A smaller size that is still in range fails the checksum or the
	// length sum.
	for _, size := range []uint32{segment.RecordHeaderSize, 150, 153} {
		b := bytes.Clone(seg)
		le.PutUint32(b[off+8:], size)
		_, err := segment.Decode(b, off, pos, &got)
		wantCorrupt(t, err, off)
		reseal(b[off:])
		_, err = segment.Decode(b, off, pos, &got)
		wantCorrupt(t, err, off)
	}
	// The record is cut off by the end of the segment.
	for cut := 1; cut <= n; cut++ {
		_, err := segment.Decode(seg[:len(seg)-cut], off, pos, &got)
		wantCorrupt(t, err, off)
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	rng := newRand(t, 4)
	r := randRecord(rng, 800, 112)
	seg := encodeAt(t, r, segment.HeaderSize, 64)
	var got segment.Record
	if a := testing.AllocsPerRun(200, func() {
		if _, err := segment.Decode(seg, segment.HeaderSize, 800, &got); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Decode of a valid record allocates %v times", a)
	}
	if a := testing.AllocsPerRun(200, func() { segment.IsEnd(seg[segment.HeaderSize:]) }); a != 0 {
		t.Fatalf("IsEnd allocates %v times", a)
	}

	// A huge size field must not make Decode allocate (or read) anything in
	// proportion to it: the error costs the same whatever the size says.
	errAllocs := func(size uint32) (allocs float64, bytesPerOp uint64) {
		b := bytes.Clone(seg)
		le.PutUint32(b[segment.HeaderSize+8:], size)
		f := func() {
			if _, err := segment.Decode(b, segment.HeaderSize, 800, &got); err == nil {
				t.Fatal("Decode accepted a bad size")
			}
		}
		allocs = testing.AllocsPerRun(100, f)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for range 100 {
			f()
		}
		runtime.ReadMemStats(&m1)
		return allocs, (m1.TotalAlloc - m0.TotalAlloc) / 100
	}
	aSmall, bSmall := errAllocs(segment.RecordHeaderSize - 1)
	for _, size := range []uint32{1 << 20, 1 << 30, math.MaxUint32} {
		a, by := errAllocs(size)
		if a > aSmall+1 || a > 8 {
			t.Errorf("size %d: %v allocations per failed Decode (size 103: %v)", size, a, aSmall)
		}
		if by > 1024 || by > bSmall+512 {
			t.Errorf("size %d: %d bytes allocated per failed Decode (size 103: %d)", size, by, bSmall)
		}
	}
}

func TestDecodeFieldChecks(t *testing.T) {
	const pos = 1 << 16
	const off = segment.HeaderSize + 8
	base := func() *segment.Record {
		return &segment.Record{
			Flags: segment.FlagContinues, Position: pos,
			Prev: pos - 800, Skip: pos - 1600, SkipVersion: 5, Version: 9,
			SyncedThrough: pos - 8, Stream: []byte("order-1"), Type: []byte("Created"), Data: []byte("{}"),
		}
	}
	decode := func(r *segment.Record, at uint64) error {
		seg := encodeAt(t, r, off, 16)
		var got segment.Record
		_, err := segment.Decode(seg, off, at, &got)
		return err
	}
	if err := decode(base(), pos); err != nil {
		t.Fatalf("valid record: %v", err)
	}
	// Boundary values that must be accepted.
	ok := map[string]func(r *segment.Record){
		"prev just before":          func(r *segment.Record) { r.Prev = pos - 8; r.Skip = pos - 16 },
		"skip just before":          func(r *segment.Record) { r.Skip = pos - 8 },
		"skip version one below":    func(r *segment.Record) { r.SkipVersion = 8 },
		"synced through = position": func(r *segment.Record) { r.SyncedThrough = pos },
		"first of stream":           func(r *segment.Record) { r.Prev, r.Skip, r.Version = segment.NoPosition, segment.NoPosition, 0 },
		"no skip":                   func(r *segment.Record) { r.Skip = segment.NoPosition; r.SkipVersion = 1 << 60 },
		"system record flags": func(r *segment.Record) {
			r.Flags = segment.FlagContinues | segment.FlagMetadata | segment.FlagTombstone
			r.Skip = segment.NoPosition
		},
		"max version": func(r *segment.Record) { r.Version = math.MaxInt64 },
	}
	for name, mod := range ok {
		r := base()
		mod(r)
		if err := decode(r, pos); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]func(r *segment.Record){
		"unknown flag 0x10":     func(r *segment.Record) { r.Flags = 0x10 },
		"delete on an event":    func(r *segment.Record) { r.Flags = segment.FlagDeleted; r.Skip = segment.NoPosition },
		"tombstone on an event": func(r *segment.Record) { r.Flags = segment.FlagTombstone; r.Skip = segment.NoPosition },
		"delete and tombstone": func(r *segment.Record) {
			r.Flags = segment.FlagMetadata | segment.FlagDeleted | segment.FlagTombstone
			r.Skip = segment.NoPosition
		},
		"system record with skip": func(r *segment.Record) { r.Flags = segment.FlagMetadata },
		"unknown flag 0x8000":     func(r *segment.Record) { r.Flags = 0x8001 },
		"negative version":        func(r *segment.Record) { r.Version = -1 },
		"min version":             func(r *segment.Record) { r.Version = math.MinInt64 },
		"empty stream":            func(r *segment.Record) { r.Stream = nil },
		"prev = position":         func(r *segment.Record) { r.Prev = pos },
		"prev after position":     func(r *segment.Record) { r.Prev = pos + 8 },
		"skip = position":         func(r *segment.Record) { r.Skip = pos },
		"skip after position":     func(r *segment.Record) { r.Skip = pos + 1024 },
		"skip version = version":  func(r *segment.Record) { r.SkipVersion = 9 },
		"skip version > version":  func(r *segment.Record) { r.SkipVersion = 100 },
		"skip without prev":       func(r *segment.Record) { r.Prev = segment.NoPosition },
		"synced through > pos":    func(r *segment.Record) { r.SyncedThrough = pos + 8 },
		"synced through max":      func(r *segment.Record) { r.SyncedThrough = math.MaxUint64 },
		"skip at version 0":       func(r *segment.Record) { r.Version = 0; r.SkipVersion = 0 },
		"wrong claimed position":  func(r *segment.Record) { r.Position = pos + 8 },
		"stale: earlier position": func(r *segment.Record) { r.Position = pos - 4096 },
	}
	for name, mod := range bad {
		r := base()
		mod(r)
		if err := decode(r, pos); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantCorrupt(t, err, off)
		}
	}
	// Misdirected: valid bytes read at another position.
	if err := decode(base(), pos+4096); err == nil {
		t.Fatal("record decoded at a position it does not claim")
	} else {
		wantCorrupt(t, err, off)
	}
}

func TestDecodeLengthsMustAddUp(t *testing.T) {
	const off = segment.HeaderSize
	r := &segment.Record{Position: 0, Prev: segment.NoPosition, Skip: segment.NoPosition,
		Stream: []byte("abc"), Type: []byte("t"), Metadata: []byte("mm"), Data: []byte("data")}
	seg := encodeAt(t, r, off, 0)
	var got segment.Record
	if _, err := segment.Decode(seg, off, 0, &got); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		at    int
		width int
		v     uint32
	}{
		{14, 2, 4}, {14, 2, 0xffff}, {80, 2, 2}, {84, 4, 3}, {84, 4, math.MaxUint32}, {88, 4, 5}, {88, 4, math.MaxUint32},
	} {
		b := bytes.Clone(seg)
		if f.width == 2 {
			le.PutUint16(b[off+f.at:], uint16(f.v))
		} else {
			le.PutUint32(b[off+f.at:], f.v)
		}
		reseal(b[off:])
		_, err := segment.Decode(b, off, 0, &got)
		wantCorrupt(t, err, off)
	}
}

// The reserved header fields are zero by the format; a record with anything
// else there is not one this build wrote or can interpret, even when its
// checksum matches.
func TestDecodeReservedFieldsMustBeZero(t *testing.T) {
	const off = segment.HeaderSize
	r := &segment.Record{Position: 0, Prev: segment.NoPosition, Skip: segment.NoPosition,
		Stream: []byte("abc"), Data: []byte("data")}
	seg := encodeAt(t, r, off, 8)
	var got segment.Record
	for _, at := range []int{82, 83, 92, 93, 94, 95} {
		b := bytes.Clone(seg)
		b[off+at] = 1
		reseal(b[off:])
		_, err := segment.Decode(b, off, 0, &got)
		wantCorrupt(t, err, off)
	}
}

// Padding is not covered by the checksum, so Decode checks it is zero as
// written: a decoded record is then exactly the bytes Encode produces.
func TestDecodePaddingMustBeZero(t *testing.T) {
	const off = segment.HeaderSize
	r := &segment.Record{Position: 0, Prev: segment.NoPosition, Skip: segment.NoPosition,
		Stream: []byte("abc"), Data: []byte("data")} // size 111, one padding byte
	seg := encodeAt(t, r, off, 8)
	var got segment.Record
	if _, err := segment.Decode(seg, off, 0, &got); err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(seg)
	b[off+111] = 0x80
	_, err := segment.Decode(b, off, 0, &got)
	wantCorrupt(t, err, off)
}

func TestDecodeOffsetOutOfRange(t *testing.T) {
	rng := newRand(t, 5)
	r := randRecord(rng, 0, 20)
	seg := encodeAt(t, r, 0, 200)
	var got segment.Record
	for _, off := range []int64{-1, -8, math.MinInt64, int64(len(seg)) - segment.RecordHeaderSize + 1,
		int64(len(seg)), int64(len(seg)) + 8, math.MaxInt64, math.MaxInt64 - 7, math.MaxInt64 - segment.RecordHeaderSize + 1} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("Decode at offset %d panicked: %v", off, p)
				}
			}()
			_, err := segment.Decode(seg, off, 0, &got)
			wantCorrupt(t, err, off)
		}()
	}
	// A zeroed header is not a record either.
	_, err := segment.Decode(seg, int64(len(seg))-segment.RecordHeaderSize, 0, &got)
	wantCorrupt(t, err, int64(len(seg))-segment.RecordHeaderSize)
}

func TestIsEnd(t *testing.T) {
	zero := make([]byte, segment.RecordHeaderSize+64)
	if !segment.IsEnd(zero) {
		t.Fatal("zero header is not the end")
	}
	if !segment.IsEnd(zero[:segment.RecordHeaderSize]) {
		t.Fatal("exactly one zero header is not the end")
	}
	if !segment.IsEnd(nil) || !segment.IsEnd(bytes.Repeat([]byte{0xff}, segment.RecordHeaderSize-1)) {
		t.Fatal("fewer bytes than a header are the end")
	}
	for i := range segment.RecordHeaderSize {
		b := bytes.Clone(zero)
		b[i] = 1
		if segment.IsEnd(b) {
			t.Fatalf("header with byte %d set reads as the end", i)
		}
	}
	b := bytes.Clone(zero)
	b[segment.RecordHeaderSize] = 0xff // past the header: irrelevant
	if !segment.IsEnd(b) {
		t.Fatal("a byte past the header changed IsEnd")
	}
	// A real record is not the end.
	rng := newRand(t, 6)
	seg := encodeAt(t, randRecord(rng, 0, 1), 0, 0)
	if segment.IsEnd(seg) {
		t.Fatal("a record reads as the end")
	}
}

func TestZeroChecksumNeverVerifies(t *testing.T) {
	rng := newRand(t, 7)
	r := randRecord(rng, 64, 40)
	seg := encodeAt(t, r, 0, 0)
	le.PutUint64(seg[0:], 0)
	var got segment.Record
	_, err := segment.Decode(seg, 0, 64, &got)
	wantCorrupt(t, err, 0)

	// Now a record whose bytes really do hash to zero: the checksum field
	// written for it must not be zero, and a zero there must not verify.
	r = &segment.Record{Position: 64, Prev: segment.NoPosition, Skip: segment.NoPosition,
		Version: 3, Stream: []byte("zero-sum"), Data: make([]byte, 32)}
	seg = encodeAt(t, r, 0, 0)
	size := len(seg) // 104 + 8 + 32 = 144: 136 hashed bytes, 4 stripes + one 8-byte lane
	if size != 144 {
		t.Fatalf("setup: size %d", size)
	}
	le.PutUint64(r.Data[24:], xxhZeroLastLane(seg[8:size]))
	if _, err := segment.Encode(seg, r); err != nil {
		t.Fatal(err)
	}
	if s := xxhash.Sum64(seg[8:size]); s != 0 {
		t.Fatalf("setup: preimage construction failed, hash %#x", s)
	}
	if le.Uint64(seg[0:]) == 0 {
		t.Fatal("Encode wrote a zero checksum (a zeroed checksum field would then verify)")
	}
	if _, err := segment.Decode(seg, 0, 64, &got); err != nil {
		t.Fatalf("record hashing to zero does not round trip: %v", err)
	}
	le.PutUint64(seg[0:], 0)
	_, err = segment.Decode(seg, 0, 64, &got)
	wantCorrupt(t, err, 0)
}

// xxhash64 constants, for building a preimage of zero.
const (
	xp1 uint64 = 11400714785074694791
	xp2 uint64 = 14029467366897019727
	xp4 uint64 = 9650029242287828579
	xp5 uint64 = 2870177450012600261
)

func xround(acc, in uint64) uint64 {
	acc += in * xp2
	return bits.RotateLeft64(acc, 31) * xp1
}

func inverse(a uint64) uint64 { // a odd; Newton iteration mod 2^64
	x := a
	for range 6 {
		x *= 2 - a*x
	}
	return x
}

// xxhZeroLastLane returns the 8-byte little-endian value to put in the last
// 8 bytes of b (len(b) >= 32, len(b)%32 in {8,16,24}) so that
// xxhash.Sum64(b) == 0. The final avalanche maps 0 to 0, and the last lane's
// mixing step is invertible.
func xxhZeroLastLane(b []byte) uint64 {
	n := len(b)
	p1, p4 := xp1, xp4
	v1, v2, v3, v4 := p1+xp2, xp2, uint64(0), -p1
	for len(b) >= 32 {
		v1 = xround(v1, le.Uint64(b[0:]))
		v2 = xround(v2, le.Uint64(b[8:]))
		v3 = xround(v3, le.Uint64(b[16:]))
		v4 = xround(v4, le.Uint64(b[24:]))
		b = b[32:]
	}
	h := bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
	for _, v := range []uint64{v1, v2, v3, v4} {
		h ^= xround(0, v)
		h = h*xp1 + xp4
	}
	h += uint64(n)
	for len(b) > 8 {
		h ^= xround(0, le.Uint64(b))
		h = bits.RotateLeft64(h, 27)*xp1 + xp4
		b = b[8:]
	}
	// Want rotl27(h ^ k1)*p1 + p4 == 0, with k1 = xround(0, k).
	x := bits.RotateLeft64(-p4*inverse(xp1), -27)
	k1 := x ^ h
	return bits.RotateLeft64(k1*inverse(xp1), -31) * inverse(xp2)
}

func TestCorruptionError(t *testing.T) {
	var got segment.Record
	_, err := segment.Decode(make([]byte, 10), 0, 0, &got)
	err = segment.WithSegment(err, "0000000000000000.seg")
	ce := wantCorrupt(t, err, 0)
	if ce.Segment != "0000000000000000.seg" {
		t.Fatalf("WithSegment did not name the segment: %q", ce.Segment)
	}
	if segment.WithSegment(err, "other") != err || ce.Segment != "0000000000000000.seg" {
		t.Fatal("WithSegment renamed an already named error")
	}
	if msg := err.Error(); !bytes.Contains([]byte(msg), []byte("0000000000000000.seg")) {
		t.Fatalf("message %q lacks the segment", msg)
	}
	plain := errors.New("x")
	if segment.WithSegment(plain, "s") != plain || segment.WithSegment(nil, "s") != nil {
		t.Fatal("WithSegment changed a non-corruption error")
	}
}

func BenchmarkDecode(b *testing.B) {
	rng := newRand(b, 8)
	r := &segment.Record{Position: 1 << 20, Prev: 1 << 19, Skip: 1 << 18, SkipVersion: 3, Version: 7,
		Stream: []byte("account-1234567890"), Type: []byte("MoneyDeposited"), Data: randBytes(rng, 80)}
	if n := segment.EncodedLen(len(r.Stream), len(r.Type), 0, len(r.Data)); n != 216 {
		b.Fatalf("record is %d bytes, want 216", n)
	}
	seg := encodeAt(b, r, 0, 0)
	var got segment.Record
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := segment.Decode(seg, 0, 1<<20, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	rng := newRand(b, 9)
	r := &segment.Record{Position: 1 << 20, Prev: 1 << 19, Skip: 1 << 18, SkipVersion: 3, Version: 7,
		Stream: []byte("account-1234567890"), Type: []byte("MoneyDeposited"), Data: randBytes(rng, 80)}
	dst := make([]byte, 216)
	b.SetBytes(216)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := segment.Encode(dst, r); err != nil {
			b.Fatal(err)
		}
	}
}
