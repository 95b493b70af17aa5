package crash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

var flagCorruptStates = flag.Int("crash.corrupt", 1000, "corruption states TestCorruptionReported runs")

// ackedEvent is one acknowledged event of a corruption state.
type ackedEvent struct {
	stream  string
	version int64
	pos     uint64
	size    int // encoded, unpadded
	ev      engine.Event
}

// corruptionState appends durably, proves everything durable with a final
// append written after a sync (its synced-through field), cuts the power
// (a quarter of the states after a clean Close),
// damages one acknowledged record below that proof on the device, and
// reopens. The damage must be reported — Open fails with ErrCorrupt, or
// reading the log does — and nothing else may change: no event before the
// damage lost, none returned different. kinds (if not nil) counts the
// kinds of damage done.
func corruptionState(seed uint64, kinds map[simfs.Corruption]int) error {
	r := rand.New(rand.NewPCG(seed, 0xdead))
	fs := simfs.New(simfs.Config{Seed: seed, WriteBack: 0.05})
	opts := func(f *simfs.FS) *engine.Options {
		return &engine.Options{Storage: f, SegmentSize: 64 << 10, IndexSlots: 16, MappedWrites: r.IntN(3) == 0}
	}
	s, err := engine.Open("corrupt", opts(fs))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	var acked []ackedEvent
	versions := map[string]int64{}
	appendOne := func(i int) error {
		name := fmt.Sprintf("s%d", r.IntN(4))
		data := make([]byte, 1+r.IntN([]int{100, 3000}[r.IntN(2)]))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		ev := engine.Event{Type: "t", Data: data}
		binary.LittleEndian.PutUint64(ev.ID[:], seed)
		binary.LittleEndian.PutUint64(ev.ID[8:], uint64(i)+1)
		v, ok := versions[name]
		if !ok {
			v = -1
		}
		res, err := s.Append(bg, name, v, ev)
		if err != nil {
			return err
		}
		versions[name] = res.LastVersion
		acked = append(acked, ackedEvent{name, res.FirstVersion, res.Position,
			segment.RecordHeaderSize + len(name) + len(ev.Type) + len(data), ev})
		return nil
	}
	n := 10 + r.IntN(150)
	// A third of the states give one stream metadata midway, a system
	// record that hides nothing: damage to it must be reported too.
	metaAt, sys := -1, uint64(0)
	if r.IntN(3) == 0 {
		metaAt = r.IntN(n)
	}
	for i := range n {
		if err := appendOne(i); err != nil {
			return fmt.Errorf("append %d: %w", i, err)
		}
		if i == metaAt {
			// Log positions are dense, across segment rolls too: the
			// system record starts where the last event ends.
			last := acked[len(acked)-1]
			sys = last.pos + uint64(last.size+7)&^7
			if err := s.SetStreamMetadata(bg, last.stream, engine.StreamMetadata{MaxCount: 1 << 40}); err != nil {
				return fmt.Errorf("set metadata: %w", err)
			}
		}
	}
	if err := s.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := appendOne(n); err != nil { // the proof: written after the sync
		return fmt.Errorf("final append: %w", err)
	}
	// A quarter of the states close cleanly first: Open then reads no
	// log, and the damage must be reported by the reads (or, for a
	// system record, by its stream's quarantine).
	var after *simfs.FS
	if r.IntN(4) == 0 {
		if err := s.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		after = fs.Crash(r, simfs.Random)
	} else {
		after = fs.Crash(r, simfs.Random)
		_ = s.Close()
	}

	// Damage one record before the proof: half the time in its header.
	target := acked[r.IntN(len(acked)-1)]
	if metaAt >= 0 && r.IntN(2) == 0 {
		if target, err = systemRecord(after, sys); err != nil {
			return err
		}
	}
	name, fileOff, err := locate(after, target.pos)
	if err != nil {
		return err
	}
	span := int64(target.size)
	if r.IntN(2) == 0 {
		span = segment.RecordHeaderSize
	}
	choices := []simfs.Corruption{simfs.BitFlip, simfs.ZeroSector, simfs.RandomSector, simfs.MisdirectedPage, simfs.DroppedPage}
	kind := choices[r.IntN(len(choices))]
	at := fileOff + r.Int64N(span)
	// A damaged sector or page must not reach the proof: without it,
	// damage to the last acknowledged group looks exactly like a torn
	// tail.
	proofName, proofOff, err := locate(after, acked[len(acked)-1].pos)
	if err != nil {
		return err
	}
	unit := int64(simfs.SectorSize)
	if kind == simfs.MisdirectedPage || kind == simfs.DroppedPage {
		unit = simfs.PageSize
	}
	if kind != simfs.BitFlip && name == proofName && (at&^(unit-1))+unit > proofOff {
		kind = simfs.BitFlip
	}
	err = after.Corrupt(name, at, kind, r)
	if errors.Is(err, simfs.ErrNoSuchCorruption) {
		kind = simfs.BitFlip // no other page differs, or none was written
		err = after.Corrupt(name, at, kind, r)
	}
	if err != nil {
		return err
	}
	if kinds != nil {
		kinds[kind]++
	}
	what := fmt.Sprintf("%v at %s offset %d (record of %s@%d at position %d)", kind, name, at, target.stream, target.version, target.pos)

	s2, err := engine.Open("corrupt", opts(after))
	if err != nil {
		if errors.Is(err, engine.ErrCorrupt) {
			return nil
		}
		return fmt.Errorf("%s: open failed, but not with ErrCorrupt: %w", what, err)
	}
	defer s2.Close()
	byID := make(map[[16]byte]*ackedEvent, len(acked))
	for i := range acked {
		byID[acked[i].ev.ID] = &acked[i]
	}
	k := 0
	for e, err := range s2.ReadAll(0) {
		if err != nil {
			if errors.Is(err, engine.ErrCorrupt) && k < len(acked) && acked[k].pos+8192 >= target.pos {
				return nil // reported, at or near the damage (a zeroed sector spans records)
			}
			var ce *engine.CorruptionError
			if lo := at&^(unit-1) - 8192; errors.As(err, &ce) && ce.Segment == name && ce.Offset >= lo && ce.Offset < at&^(unit-1)+unit {
				// A damaged record named, earlier in the log: a
				// damaged system record stops reads of its stream at
				// the stream's first event.
				return nil
			}
			return fmt.Errorf("%s: ReadAll after %d events: %w", what, k, err)
		}
		a := byID[e.ID]
		if k >= len(acked) || a != &acked[k] || e.Stream != a.stream || e.Version != a.version || e.Position != a.pos || !bytes.Equal(e.Data, a.ev.Data) {
			return fmt.Errorf("%s: ReadAll event %d (%s@%d at %d) is not the acknowledged one", what, k, e.Stream, e.Version, e.Position)
		}
		k++
	}
	return fmt.Errorf("%s: not reported; ReadAll returned %d of %d acknowledged events", what, k, len(acked))
}

// systemRecord returns the system record at log position pos of fs's
// durable images, as a target for damage.
func systemRecord(fs *simfs.FS, pos uint64) (ackedEvent, error) {
	name, off, err := locate(fs, pos)
	if err != nil {
		return ackedEvent{}, err
	}
	img, ok := fs.Durable(name)
	if !ok {
		return ackedEvent{}, fmt.Errorf("no durable image of %s", name)
	}
	var rec segment.Record
	if _, err := segment.Decode(img, off, pos, &rec); err != nil || rec.Flags&segment.FlagMetadata == 0 {
		return ackedEvent{}, fmt.Errorf("no system record at position %d (%s offset %d): %v", pos, name, off, err)
	}
	return ackedEvent{stream: string(rec.Stream) + " (system record)", version: rec.Version, pos: pos,
		size: segment.RecordHeaderSize + len(rec.Stream) + len(rec.Type) + len(rec.Metadata) + len(rec.Data)}, nil
}

// locate returns the segment file holding log position pos and pos's
// offset in it.
func locate(fs *simfs.FS, pos uint64) (string, int64, error) {
	names, err := fs.List()
	if err != nil {
		return "", 0, err
	}
	best, bestBase := "", uint64(0)
	for _, n := range names {
		if base, ok := segment.ParseFileName(n); ok && base <= pos && (best == "" || base > bestBase) {
			best, bestBase = n, base
		}
	}
	if best == "" {
		return "", 0, fmt.Errorf("no segment holds position %d (files %v)", pos, names)
	}
	return best, segment.HeaderSize + int64(pos-bestBase), nil
}

// TestCorruptionReported runs -crash.corrupt corruption states.
func TestCorruptionReported(t *testing.T) {
	n := *flagCorruptStates
	if testing.Short() {
		n = min(n, 30)
	}
	base := baseSeed()
	kinds := map[simfs.Corruption]int{}
	for i := range uint64(n) {
		if err := corruptionState(base+i, kinds); err != nil {
			t.Fatalf("corruption state, seed %d: %v\nreplay: go test ./fuzz/crash -run TestCorruptionReported -crash.seed=%d -crash.corrupt=1", base+i, err, base+i)
		}
	}
	var mix []string
	for _, k := range []simfs.Corruption{simfs.BitFlip, simfs.ZeroSector, simfs.RandomSector, simfs.MisdirectedPage, simfs.DroppedPage} {
		mix = append(mix, fmt.Sprintf("%v %d", k, kinds[k]))
	}
	t.Logf("%d corruption states: every damaged acknowledged record reported (%s)", n, strings.Join(mix, ", "))
}
