package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/spooldb/spool/segment"
)

// A read from a saved position whose record is damaged reports damage,
// not a bad position: a subscriber that gives up its checkpoint on
// ErrInvalidPosition must not skip damage that way. A position that never
// was a record start reports only ErrInvalidPosition. Damage before the
// position, which hides which of the two it is, reports both.
func TestReadFromDamagedRecordIsCorruption(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, nil)
	first := appendT(t, s, "a", NoStream, ev("a0"))
	second := appendT(t, s, "a", 0, ev("a1"))
	appendT(t, s, "b", NoStream, ev("b0"))
	closeT(t, s)
	flipByte(t, dir, second.Position) // a body byte: the size fields hold

	s = openT(t, dir, nil)
	ctx := context.Background()
	for name, read := range map[string]func(from uint64) error{
		"ReadAll":   func(from uint64) error { _, err := collectErr(s.ReadAll(from)); return err },
		"Subscribe": func(from uint64) error { _, err := collectErr(s.Subscribe(ctx, from, nil)); return err },
	} {
		err := read(second.Position)
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInvalidPosition) {
			t.Errorf("%s from the damaged record: %v; want ErrCorrupt alone", name, err)
		}
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Offset != int64(second.Position)+segment.HeaderSize {
			t.Errorf("%s from the damaged record: %v does not name its offset", name, err)
		}
		err = read(second.Position + 8)
		if !errors.Is(err, ErrInvalidPosition) || errors.Is(err, ErrCorrupt) {
			t.Errorf("%s from inside a record: %v; want ErrInvalidPosition alone", name, err)
		}
	}
	closeT(t, s)

	// Damage in the first record's size field: the walk to the second
	// cannot tell where records start.
	patchFile(t, lastSegmentPath(t, dir), func(b []byte) {
		b[int64(first.Position)+segment.HeaderSize+8] ^= 0x40
	})
	s = openT(t, dir, nil)
	defer closeT(t, s)
	_, err := collectErr(s.ReadAll(second.Position + 8))
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrInvalidPosition) {
		t.Errorf("ReadAll from inside a record behind damage: %v; want both ErrCorrupt and ErrInvalidPosition", err)
	}
}
