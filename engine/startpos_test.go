package engine

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/mmapfile/simfs"
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

// A read from a saved position that fails for want of a mapping (too many
// open files, say) returns that error: the position is not invalid, and
// a subscriber must not give it up.
func TestReadFromSavedPositionKeepsIOErrors(t *testing.T) {
	fs := &failSegmentOpenFS{FS: simfs.New(simfs.Config{Seed: 1})}
	o := &Options{Storage: fs, SegmentSize: 64 << 10, MaxMappedBytes: 128 << 10}
	s, err := Open("d", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendT(t, s, "a", NoStream, ev("a0"))
	second := appendT(t, s, "a", 0, ev("a1"))
	big := strings.Repeat("x", 1000)
	for range 400 { // several segments: the first one is unmapped
		appendT(t, s, "b", Any, ev(big))
	}
	if st := s.Stats(); st.SegmentUnmaps == 0 {
		t.Fatalf("no segment was unmapped (%d segments)", st.Segments)
	}
	fs.fail.Store(true)
	_, err = collectErr(s.ReadAll(second.Position))
	if !errors.Is(err, syscall.EMFILE) || errors.Is(err, ErrInvalidPosition) {
		t.Fatalf("ReadAll from a saved position whose segment cannot be mapped: %v; want EMFILE, not ErrInvalidPosition", err)
	}
	fs.fail.Store(false)
	if _, err := collectErr(s.ReadAll(second.Position)); err != nil {
		t.Fatalf("ReadAll from the saved position once the segment maps again: %v", err)
	}
}

// failSegmentOpenFS fails Open of segment files with EMFILE while fail is
// set.
type failSegmentOpenFS struct {
	mmapfile.FS
	fail atomic.Bool
}

func (f *failSegmentOpenFS) Open(name string) (mmapfile.File, error) {
	if f.fail.Load() && strings.HasSuffix(name, ".seg") {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EMFILE}
	}
	return f.FS.Open(name)
}
