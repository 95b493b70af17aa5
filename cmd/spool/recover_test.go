package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/segment"
)

// buildStore appends n events round-robin to three streams and returns
// them as read back, in log order.
func buildStore(t *testing.T, dir string, opts *engine.Options, n int) []engine.RecordedEvent {
	t.Helper()
	s, err := engine.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		data := []byte(fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", 100)))
		if _, err := s.Append(context.Background(), fmt.Sprintf("st-%d", i%3), engine.Any, engine.Event{Type: "T", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	var evs []engine.RecordedEvent
	for ev, err := range s.ReadAll(0) {
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev.Clone())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return evs
}

// recordFile returns the segment file holding log position pos and the
// record's offset in it.
func recordFile(t *testing.T, dir string, pos uint64) (string, int64) {
	t.Helper()
	segs, err := segmentFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i].base <= pos {
			return segs[i].name, int64(pos-segs[i].base) + segment.HeaderSize
		}
	}
	t.Fatalf("no segment holds %d", pos)
	return "", 0
}

func TestVerifyCommandCleanStore(t *testing.T) {
	dir := t.TempDir()
	evs := buildStore(t, dir, &engine.Options{SegmentSize: 64 << 10, Durability: engine.NoSync}, 1500)
	code, o, e := runCmd("verify", dir)
	if code != 0 || !strings.Contains(o, fmt.Sprintf("records:      %d\n", len(evs))) ||
		!strings.Contains(o, "streams:      3\n") || !strings.Contains(o, "compared with the log (3 entries)") ||
		!strings.Contains(o, "problems:     none") {
		t.Fatalf("verify: %d\n%s\n%s", code, o, e)
	}
	// stderr is no terminal: plain progress lines, the last at 100%.
	lines := strings.Split(strings.TrimSpace(e), "\n")
	if len(lines) < 1 || !strings.Contains(lines[len(lines)-1], "(100%)") || strings.Contains(e, "(0%)") {
		t.Fatalf("progress output %q (want steps of 10%% up to 100%%, no 0%% line)", e)
	}
	if code, _, e := runCmd("verify", t.TempDir()); code != 1 || !strings.Contains(e, "not a spool store") {
		t.Fatalf("verify empty dir: %d %q", code, e)
	}
}

func TestRecoverTruncate(t *testing.T) {
	cases := []struct {
		name string
		opts *engine.Options
		n    int
		at   func(n int) int // which event to damage
	}{
		// Damage in an early segment: later segments prove it acknowledged.
		{"earlier segment", &engine.Options{SegmentSize: 64 << 10, Durability: engine.NoSync}, 1500, func(n int) int { return n / 5 }},
		// Damage in the only segment: later records' synced-through
		// positions prove it acknowledged.
		{"watermark", &engine.Options{SegmentSize: 1 << 20}, 120, func(n int) int { return n / 2 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			evs := buildStore(t, dir, c.opts, c.n)
			victim := evs[c.at(len(evs))]
			seg, off := recordFile(t, dir, victim.Position)
			path := filepath.Join(dir, seg)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[off+segment.RecordHeaderSize+int64(len(victim.Stream))+3] ^= 0x20 // in the event's data
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			// Without the index (or after an unclean stop) Open scans the log.
			if err := os.Remove(filepath.Join(dir, "index")); err != nil {
				t.Fatal(err)
			}
			if _, err := engine.Open(dir, c.opts); !errors.Is(err, engine.ErrCorrupt) {
				t.Fatalf("Open of a damaged store: %v, want ErrCorrupt", err)
			}

			where := fmt.Sprintf("%s at offset %d", seg, off)
			if code, o, e := runCmd("verify", dir, "--quiet"); code != 1 || !strings.Contains(o, where) || e != "spool verify: 1 problems found\n" {
				t.Fatalf("verify: %d\n%s\n%s", code, o, e)
			}
			code, o, e := runCmd("recover", dir)
			if code != 1 || !strings.Contains(o, fmt.Sprintf("cut: %s at offset %d", seg, off)) ||
				!strings.Contains(o, "would be saved as: "+seg+".broken") {
				t.Fatalf("recover without --truncate: %d\n%s\n%s", code, o, e)
			}
			if _, err := os.Stat(path + ".broken"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("recover without --truncate changed the store: %v", err)
			}

			code, o, e = runCmd("recover", dir, "--truncate")
			if code != 0 || !strings.Contains(o, "the store opens") {
				t.Fatalf("recover --truncate: %d\n%s\n%s", code, o, e)
			}
			if saved, err := os.ReadFile(path + ".broken"); err != nil || string(saved) != string(b) {
				t.Fatalf("%s.broken is not the damaged segment as it was: %v", seg, err)
			}

			s, err := engine.Open(dir, c.opts)
			if err != nil {
				t.Fatalf("Open after the cut: %v", err)
			}
			var got []engine.RecordedEvent
			for ev, err := range s.ReadAll(0) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.Clone())
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			want := evs[:c.at(len(evs))] // one event per append: the prefix before the damage
			if len(got) != len(want) {
				t.Fatalf("%d events after the cut, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].Position != want[i].Position || got[i].Stream != want[i].Stream ||
					got[i].Version != want[i].Version || string(got[i].Data) != string(want[i].Data) {
					t.Fatalf("event %d: %+v, want %+v", i, got[i], want[i])
				}
			}
			if code, o, e := runCmd("verify", dir); code != 0 {
				t.Fatalf("verify after the cut: %d\n%s\n%s", code, o, e)
			}
		})
	}
}

// TestRecoverTruncateCompactedSegment: damage inside a compacted segment.
// The cut used to scan it as an ordinary segment, zero it from its first
// record on, position map included, and leave a store that neither opened
// nor could be cut again. Now the compacted segment goes whole, saved
// aside like the later ones, and the store opens with the log before it.
func TestRecoverTruncateCompactedSegment(t *testing.T) {
	dir := t.TempDir()
	opts := &engine.Options{SegmentSize: 64 << 10}
	s, err := engine.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 1500 {
		stream := []string{"dead", "live"}[i%2]
		if _, err := s.Append(ctx, stream, engine.Any, engine.Event{Type: "T", Data: []byte(fmt.Sprintf("%d %s", i, strings.Repeat("x", 100)))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetStreamMetadata(ctx, "dead", engine.StreamMetadata{MaxCount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, &engine.CompactOptions{MinDeadRatio: 0.01, BytesPerSecond: -1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := segmentFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, segs[1].name)
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	h, err := segment.ReadHeader(b, int64(len(b)))
	if err != nil || !h.Compacted() {
		t.Fatalf("second segment not compacted: %v", err)
	}
	b[int64(h.MapOffset)-2000] ^= 1 // a record near the end of its records
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "index")); err != nil { // Open scans the log
		t.Fatal(err)
	}

	// The first segment is compacted too: with the second gone it would
	// end the log, so the cut starts a new segment after it.
	code, o, e := runCmd("recover", dir, "--truncate")
	if code != 0 || !strings.Contains(o, segs[1].name+" goes whole, as it is compacted") ||
		!strings.Contains(o, "a new empty segment "+segs[1].name+" (64.00 KiB) starts the log at position") ||
		!strings.Contains(o, "the store opens") {
		t.Fatalf("recover --truncate: exit %d\n%s%s", code, o, e)
	}
	if _, err := os.Stat(victim + ".broken"); err != nil {
		t.Fatalf("the compacted segment was not saved aside: %v", err)
	}
	countEvents := func() int {
		t.Helper()
		s, err := engine.Open(dir, opts)
		if err != nil {
			t.Fatalf("Open after the cut: %v", err)
		}
		defer s.Close()
		n := 0
		for e, err := range s.ReadAll(0) {
			if err != nil {
				t.Fatalf("ReadAll after the cut: %v", err)
			}
			if e.Position >= segs[1].base {
				t.Fatalf("event at %d, in or past the segment cut at %d", e.Position, segs[1].base)
			}
			n++
		}
		return n
	}
	n := countEvents()
	if n == 0 {
		t.Fatal("the cut took the first segment too")
	}
	// The log ends where the compacted segment's range does, after a
	// record that may end before it: still a clean reopen, no scan.
	s, err = engine.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rec := s.Recovered(); !rec.Clean {
		t.Fatalf("reopened after a clean close as %+v", rec)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The segments after a compacted one lost (or a cut that stopped
	// between its moves and the new segment) leave the log ending in the
	// compacted segment, with a clean index whose checkpoint lies past
	// it: the next run removes the index and adds a segment, of the size
	// of those saved aside.
	s, err = engine.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := s.Append(ctx, "live", engine.Any, engine.Event{Type: "T", Data: []byte(fmt.Sprint("lost ", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(victim); err != nil { // the new segment, with the 10 events
		t.Fatal(err)
	}
	code, o, e = runCmd("recover", dir, "--truncate")
	if code != 0 || !strings.Contains(o, "cut: nothing; "+segs[0].name+" is a compacted segment and ends the log") ||
		!strings.Contains(o, "a new empty segment "+segs[1].name+" (64.00 KiB) starts the log") ||
		strings.Contains(o, "lost from the log") || !strings.Contains(o, "the store opens") {
		t.Fatalf("recover --truncate after an interrupted cut: exit %d\n%s%s", code, o, e)
	}
	if got := countEvents(); got != n {
		t.Fatalf("%d events after the second run, %d after the first", got, n)
	}
}

// TestRecoverDamagedIndexSlot: a cleanly closed index with damaged slots.
// Open trusts such an index without reading it, so every read and append
// of the damaged streams failed, Open after Open, and "spool recover" said
// there was nothing to recover. It now checks the index and, with
// --truncate, rebuilds it from the log.
func TestRecoverDamagedIndexSlot(t *testing.T) {
	dir := t.TempDir()
	buildStore(t, dir, &engine.Options{SegmentSize: 64 << 10, IndexSlots: 16}, 30)
	index := filepath.Join(dir, "index")
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	const header, slot = 4096, 48 // hashindex's layout
	for i := header; i+slot <= len(b); i += slot {
		if binary.LittleEndian.Uint64(b[i:]) != 0 {
			b[i+16] ^= 0x40 // a bit of the slot's tail position
		}
	}
	if err := os.WriteFile(index, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCmd("dump", dir, "--stream", "st-0"); code == 0 {
		t.Fatal("dump read a stream through a damaged slot")
	}

	code, o, e := runCmd("recover", dir)
	if code != 1 || !strings.Contains(o, "the index is damaged") || !strings.Contains(o, "slot checksum") ||
		!strings.Contains(o, "run again with --truncate to rebuild the index") {
		t.Fatalf("recover: exit %d\n%s%s", code, o, e)
	}
	if after, err := os.ReadFile(index); err != nil || !bytes.Equal(after, b) {
		t.Fatalf("recover without --truncate changed the index (%v)", err)
	}
	code, o, e = runCmd("recover", dir, "--truncate")
	if code != 0 || !strings.Contains(o, "index rebuilt from the log: 3 streams") {
		t.Fatalf("recover --truncate: exit %d\n%s%s", code, o, e)
	}
	for _, stream := range []string{"st-0", "st-1", "st-2"} {
		if code, o, e := runCmd("dump", dir, "--stream", stream); code != 0 || strings.Count(o, "\n") < 10 {
			t.Fatalf("dump --stream %s after recover: exit %d\n%s%s", stream, code, o, e)
		}
	}
	if code, o, e := runCmd("recover", dir); code != 0 || !strings.Contains(o, "nothing to recover") {
		t.Fatalf("recover after the rebuild: exit %d\n%s%s", code, o, e)
	}
}

// TestRecoverCutsTheWholeLog: the only segment's header is damaged, so
// the cut takes the whole log. recover used to go on and fail on the
// directory it had emptied ("not a spool store"); it now says what
// happened and leaves starting an empty store to the user.
func TestRecoverCutsTheWholeLog(t *testing.T) {
	dir := t.TempDir()
	buildStore(t, dir, &engine.Options{SegmentSize: 1 << 20}, 30)
	segs, err := segmentFiles(dir)
	if err != nil || len(segs) != 1 {
		t.Fatalf("%d segments (%v), want 1", len(segs), err)
	}
	path := filepath.Join(dir, segs[0].name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[33] ^= 1 // the creation time: the header's checksum fails
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, o, e := runCmd("recover", dir, "--truncate")
	if code != 1 || !strings.Contains(o, segs[0].name+" goes whole, as its header is damaged") ||
		!strings.Contains(e, "no segment is left: the cuts took the whole log") {
		t.Fatalf("recover --truncate: exit %d\n%s%s", code, o, e)
	}
	if _, err := os.Stat(path + ".broken"); err != nil {
		t.Fatalf("the segment was not saved aside: %v", err)
	}
}
