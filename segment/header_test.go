package segment_test

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/segment"
)

func TestHeaderRoundTrip(t *testing.T) {
	rng := newRand(t, 20)
	for i := range 200 {
		h := segment.Header{
			Base:    rng.Uint64N(segment.MaxPosition + 1),
			Size:    uint64(segment.HeaderSize + rng.IntN(1<<30)),
			Created: rng.Int64(),
		}
		switch i {
		case 0:
			h.Base = 0
		case 1:
			h.Base = segment.MaxPosition
			h.Created = math.MinInt64
		}
		b := make([]byte, segment.HeaderSize+16)
		fillGarbage(rng, b)
		tail := bytes.Clone(b[segment.HeaderSize:])
		segment.PutHeader(b, h)
		if !bytes.Equal(b[segment.HeaderSize:], tail) {
			t.Fatal("PutHeader wrote past HeaderSize")
		}
		if string(b[:8]) != "SPOOLSEG" {
			t.Fatalf("magic %q", b[:8])
		}
		for j, c := range b[40:120] {
			if c != 0 {
				t.Fatalf("reserved header byte %d is %#x over garbage", 40+j, c)
			}
		}
		got, err := segment.ReadHeader(b, int64(h.Size))
		if err != nil {
			t.Fatalf("ReadHeader(%+v): %v", h, err)
		}
		h.Version = segment.FormatVersion
		if got != h {
			t.Fatalf("ReadHeader = %+v, want %+v", got, h)
		}
	}
}

func TestReadHeaderRejects(t *testing.T) {
	const size = 1 << 20
	good := make([]byte, segment.HeaderSize)
	segment.PutHeader(good, segment.Header{Base: 4096, Size: size, Created: 12345})
	if _, err := segment.ReadHeader(good, size); err != nil {
		t.Fatal(err)
	}
	// Every single bit flip is caught.
	for bit := range segment.HeaderSize * 8 {
		b := bytes.Clone(good)
		b[bit/8] ^= 1 << (bit % 8)
		_, err := segment.ReadHeader(b, size)
		if err == nil {
			t.Fatalf("flip of header bit %d not detected", bit)
		}
		wantCorrupt(t, err, 0) // the magic or the checksum fails first
	}
	resealHeader := func(b []byte) { le.PutUint64(b[120:], xxhash.Sum64(b[:120])) }
	cases := map[string]struct {
		mod  func(b []byte)
		off  int64
		size int64
	}{
		"bad magic":            {func(b []byte) { copy(b, "SPOOLSEH"); resealHeader(b) }, 0, size},
		"zero magic":           {func(b []byte) { clear(b[:8]); resealHeader(b) }, 0, size},
		"version 0":            {func(b []byte) { le.PutUint32(b[8:], 0); resealHeader(b) }, 8, size},
		"version 2":            {func(b []byte) { le.PutUint32(b[8:], 2); resealHeader(b) }, 8, size},
		"unknown flag":         {func(b []byte) { le.PutUint32(b[12:], 2); resealHeader(b) }, 12, size},
		"base past max":        {func(b []byte) { le.PutUint64(b[16:], segment.MaxPosition+1); resealHeader(b) }, 16, size},
		"file larger":          {func(b []byte) {}, 24, size + 1},
		"file smaller":         {func(b []byte) {}, 24, size - 4096},
		"file empty":           {func(b []byte) {}, 24, 0},
		"zero checksum":        {func(b []byte) { clear(b[120:]) }, 0, size},
		"all zero":             {func(b []byte) { clear(b) }, 0, size},
		"checksum of other hd": {func(b []byte) { le.PutUint64(b[16:], 0) }, 0, size},
	}
	for name, c := range cases {
		b := bytes.Clone(good)
		c.mod(b)
		_, err := segment.ReadHeader(b, c.size)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		wantCorrupt(t, err, c.off)
	}
	for n := range segment.HeaderSize {
		_, err := segment.ReadHeader(good[:n], size)
		wantCorrupt(t, err, 0)
	}
}

func TestFileName(t *testing.T) {
	rng := newRand(t, 21)
	bases := []uint64{0, 1, 15, 16, 255, 4096, 1 << 32, segment.MaxPosition, math.MaxUint64}
	for range 500 {
		bases = append(bases, rng.Uint64N(1<<uint(rng.IntN(64)+1)-1))
	}
	names := make([]string, len(bases))
	for i, base := range bases {
		name := segment.FileName(base)
		if len(name) != 20 || !strings.HasSuffix(name, ".seg") {
			t.Fatalf("FileName(%d) = %q", base, name)
		}
		got, ok := segment.ParseFileName(name)
		if !ok || got != base {
			t.Fatalf("ParseFileName(%q) = %d, %v; want %d", name, got, ok, base)
		}
		names[i] = name
	}
	if segment.FileName(0x1f) != "000000000000001f.seg" {
		t.Fatalf("FileName(0x1f) = %q", segment.FileName(0x1f))
	}
	// Sorting the names sorts the bases: ls order is log order.
	slices.Sort(names)
	slices.Sort(bases)
	for i, name := range names {
		if got, _ := segment.ParseFileName(name); got != bases[i] {
			t.Fatalf("sorted name %d is %q (%d), sorted base is %d", i, name, got, bases[i])
		}
	}
	for _, bad := range []string{
		"", ".seg", "0.seg", "000000000000000.seg", "00000000000000000.seg",
		"000000000000001F.seg", "000000000000001g.seg", "00000000000000-1.seg",
		"0000000000000000.SEG", "0000000000000000.sef", "0000000000000000seg.",
		"0000000000000000.seg ", " 000000000000000.seg", "0000000000000000.seg.tmp",
		"+000000000000001.seg", "0x00000000000001.seg", "00000000000000é.seg",
	} {
		if base, ok := segment.ParseFileName(bad); ok {
			t.Errorf("ParseFileName(%q) = %d, true", bad, base)
		}
	}
}
