package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"unsafe"

	"github.com/spooldb/spool/segment"
)

// Record decode modes (bits of the mode argument of FuzzRecordDecode).
const (
	recPosFromData = 1 << iota // pos is the position field at off, not the pos argument
	recSeal                    // recompute the checksum of the record frame at off first
)

// checkRecord is FuzzRecordDecode's property check. It returns the outcome
// ("ok": Decode accepted; "peek": only Peek accepted; "corrupt": neither)
// or a property violation.
func checkRecord(data []byte, off int64, pos uint64, mode uint8) (string, error) {
	if mode&recPosFromData != 0 && off >= 0 && off <= int64(len(data))-24 {
		pos = le.Uint64(data[off+recordPos:])
	}
	if mode&recSeal != 0 && off >= 0 && off <= int64(len(data)) {
		data = bytes.Clone(data)
		sealRecords(data[off:], 0) // seals the frame at off and any that follow it
	}
	orig := bytes.Clone(data)

	var peeked, r segment.Record
	pn, perr := segment.Peek(data, off, pos, &peeked)
	if err := wantRecordErr("Peek", perr, pn, off); err != nil {
		return "", err
	}
	if perr == nil {
		if err := recordInBounds("Peek", &peeked, pn, data, off, pos); err != nil {
			return "", err
		}
	}
	n, err := segment.Decode(data, off, pos, &r)
	if err := wantRecordErr("Decode", err, n, off); err != nil {
		return "", err
	}
	if !bytes.Equal(data, orig) {
		return "", errors.New("Peek or Decode wrote to its input")
	}
	switch {
	case err != nil && perr != nil:
		return "corrupt", nil
	case err != nil:
		return "peek", nil
	case perr != nil:
		return "", fmt.Errorf("Decode accepted what Peek refused: %v", perr)
	case pn != n:
		return "", fmt.Errorf("Peek length %d, Decode length %d", pn, n)
	}
	if err := recordInBounds("Decode", &r, n, data, off, pos); err != nil {
		return "", err
	}
	if err := sameRecord(&peeked, &r); err != nil {
		return "", fmt.Errorf("Peek and Decode disagree: %v", err)
	}
	// A verified record is exactly the bytes Encode writes for it, so
	// nothing unverified (reserved fields, padding) rides along.
	again := bytes.Repeat([]byte{0xee}, n)
	if m, err := segment.Encode(again, &r); err != nil || m != n {
		return "", fmt.Errorf("re-encoding a decoded record: %d, %v (decoded %d)", m, err, n)
	}
	if !bytes.Equal(again, data[off:off+int64(n)]) {
		return "", errors.New("re-encoded record differs from the decoded bytes")
	}
	// Verifying a record must not allocate: a read path decodes every
	// record it returns. AllocsPerRun counts the whole process's mallocs
	// and returns their integer mean: over 100 runs, the few a fuzzing
	// worker's own goroutines make meanwhile round away, one per Decode
	// does not.
	if allocs := testing.AllocsPerRun(100, func() { _, _ = segment.Decode(data, off, pos, &r) }); allocs != 0 {
		return "", fmt.Errorf("Decode of a valid record allocated %v times", allocs)
	}
	// The position field makes a record valid at one position only.
	var r2 segment.Record
	if _, err := segment.Decode(data, off, pos^8, &r2); err == nil {
		return "", fmt.Errorf("record verified at positions %d and %d", pos, pos^8)
	}
	return "ok", nil
}

// wantRecordErr checks the error contract of Peek and Decode: nil, or a
// *segment.CorruptionError at off with nothing decoded.
func wantRecordErr(op string, err error, n int, off int64) error {
	if err == nil {
		return nil
	}
	var ce *segment.CorruptionError
	switch {
	case !errors.As(err, &ce) || !errors.Is(err, segment.ErrCorrupt):
		return fmt.Errorf("%s error %v (%T) is not a *segment.CorruptionError", op, err, err)
	case ce.Offset != off:
		return fmt.Errorf("%s error at offset %d, record at %d", op, ce.Offset, off)
	case n != 0:
		return fmt.Errorf("failed %s returned length %d", op, n)
	}
	return nil
}

// recordInBounds checks what holds for any record Peek or Decode accepted:
// the length, the field invariants, and that every body slice lies inside
// the record's own bytes (so nothing was allocated or read out of bounds).
func recordInBounds(op string, r *segment.Record, n int, data []byte, off int64, pos uint64) error {
	if n%8 != 0 || n < segment.RecordHeaderSize || off+int64(n) > int64(len(data)) || n != r.Len() {
		return fmt.Errorf("%s length %d (Len %d) at %d of %d bytes", op, n, r.Len(), off, len(data))
	}
	switch {
	case r.Position != pos || r.End() != pos+uint64(n):
		return fmt.Errorf("%s: position %d, end %d, want %d", op, r.Position, r.End(), pos)
	case r.Version < 0 || len(r.Stream) == 0:
		return fmt.Errorf("%s: version %d, stream %q", op, r.Version, r.Stream)
	case r.Prev != segment.NoPosition && r.Prev >= r.Position:
		return fmt.Errorf("%s: back-pointer %d not before %d", op, r.Prev, r.Position)
	case r.Skip != segment.NoPosition && (r.Skip >= r.Position || r.Prev == segment.NoPosition):
		return fmt.Errorf("%s: skip pointer %d", op, r.Skip)
	case r.SyncedThrough > r.Position:
		return fmt.Errorf("%s: synced-through %d after %d", op, r.SyncedThrough, r.Position)
	}
	frame := data[off+segment.RecordHeaderSize : off+int64(n)]
	for _, s := range [][]byte{r.Stream, r.Type, r.Metadata, r.Data} {
		if len(s) > 0 && !within(s, frame) {
			return fmt.Errorf("%s: a body field does not alias the record's bytes", op)
		}
	}
	return nil
}

// within reports whether s lies inside frame's memory.
func within(s, frame []byte) bool {
	if len(frame) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(frame)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(frame))
}

func sameRecord(a, b *segment.Record) error {
	switch {
	case a.Flags != b.Flags, a.Position != b.Position, a.Prev != b.Prev, a.Skip != b.Skip,
		a.SkipVersion != b.SkipVersion, a.Version != b.Version, a.Timestamp != b.Timestamp,
		a.ID != b.ID, a.SyncedThrough != b.SyncedThrough:
		return fmt.Errorf("headers differ: %+v vs %+v", a, b)
	case !bytes.Equal(a.Stream, b.Stream), !bytes.Equal(a.Type, b.Type),
		!bytes.Equal(a.Metadata, b.Metadata), !bytes.Equal(a.Data, b.Data):
		return errors.New("bodies differ")
	}
	return nil
}
