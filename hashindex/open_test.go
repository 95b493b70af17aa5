package hashindex

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// reseal recomputes the header checksum after a deliberate edit, so that
// Open gets past the checksum to the check under test.
func reseal(b []byte) {
	le.PutUint64(b[hChecksum:], xxhash.Sum64(b[:hChecksum]))
}

// goodIndexFile writes a valid, clean 64-slot index with a few streams and
// returns its bytes.
func goodIndexFile(t *testing.T) ([]byte, func([]byte) error) {
	fs, dir := newFS(t)
	ix := mustCreate(t, fs, "index", 64)
	for n := range 10 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(100, 0, true); err != nil {
		t.Fatal(err)
	}
	mustClose(t, ix)
	good := readFile(t, dir, "index")
	open := func(b []byte) error {
		writeFile(t, dir, "index", b)
		ix, err := Open(fs, "index")
		if err == nil {
			mustClose(t, ix)
		}
		return err
	}
	return good, open
}

func TestOpenRejects(t *testing.T) {
	good, open := goodIndexFile(t)
	if err := open(good); err != nil {
		t.Fatalf("Open of the untouched file: %v", err)
	}
	for _, c := range []struct {
		name   string
		edit   func([]byte) []byte
		reason string
	}{
		{"bad magic", func(b []byte) []byte { b[3] = 'X'; reseal(b); return b }, "bad magic"},
		{"wrong version", func(b []byte) []byte { le.PutUint32(b[hVersion:], 2); reseal(b); return b }, "format version 2"},
		{"big-endian writer", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[hByteOrder:], byteOrderTag)
			reseal(b)
			return b
		}, "big-endian"},
		{"garbage byte-order tag", func(b []byte) []byte { le.PutUint32(b[hByteOrder:], 0xdeadbeef); reseal(b); return b }, "byte-order tag"},
		{"bad header checksum", func(b []byte) []byte { b[hChecksum+3] ^= 0x10; return b }, "header checksum"},
		{"edited field without checksum", func(b []byte) []byte { le.PutUint64(b[hCheckpoint:], 1<<40); return b }, "header checksum"},
		{"truncated inside header", func(b []byte) []byte { return b[:2000] }, "truncated"},
		{"truncated slots", func(b []byte) []byte { return b[:len(b)-SlotSize] }, "want"},
		{"truncated to header", func(b []byte) []byte { return b[:HeaderSize] }, "want"},
		{"empty file", func(b []byte) []byte { return b[:0] }, "empty"},
		{"slot count not power of two", func(b []byte) []byte { le.PutUint64(b[hSlots:], 48); reseal(b); return b }, "power of two"},
		{"slot count below minimum", func(b []byte) []byte { le.PutUint64(b[hSlots:], 8); reseal(b); return b }, "power of two"},
		{"slot count huge", func(b []byte) []byte { le.PutUint64(b[hSlots:], 1<<63); reseal(b); return b }, "power of two"},
		{"slot count disagrees with size", func(b []byte) []byte { le.PutUint64(b[hSlots:], 128); reseal(b); return b }, "want"},
		{"file longer than slots", func(b []byte) []byte { return append(b, make([]byte, SlotSize)...) }, "want"},
		{"file has a partial slot", func(b []byte) []byte { return append(b, 0, 0, 0, 0, 0, 0, 0, 0) }, "want"},
		{"count > slots", func(b []byte) []byte { le.PutUint64(b[hCount:], 65); reseal(b); return b }, "exceeds"},
		{"bad clean flag", func(b []byte) []byte { le.PutUint32(b[hClean:], 7); reseal(b); return b }, "clean flag"},
		{"last record length unaligned", func(b []byte) []byte { le.PutUint32(b[hLastLen:], 12); reseal(b); return b }, "last record length"},
		{"last record longer than the log", func(b []byte) []byte { le.PutUint32(b[hLastLen:], 104); reseal(b); return b }, "last record length"},
		{"annotated > count", func(b []byte) []byte { le.PutUint64(b[hAnnotated:], le.Uint64(b[hCount:])+1); reseal(b); return b }, "exceeds count"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := open(c.edit(append([]byte(nil), good...)))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Open: %v, want ErrInvalid", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "index") || !strings.Contains(msg, c.reason) {
				t.Fatalf("Open: %q, want the file name and %q", msg, c.reason)
			}
		})
	}
}

func TestOpenAcceptsCountAtSlots(t *testing.T) {
	// count <= slots is all Open checks; whether the slots agree is
	// Validate's business.
	good, open := goodIndexFile(t)
	b := append([]byte(nil), good...)
	le.PutUint64(b[hCount:], 64)
	reseal(b)
	if err := open(b); err != nil {
		t.Fatalf("Open with count == slots: %v", err)
	}
}
