package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// capStore describes the store of the mapped-bytes tests: more than 20
// segments of 1 MiB under a cap of 8 MiB, so that most segments must be
// unmapped and mapped again. The same sizes run natively and under
// qemu-user for arm and arm64 (CI), where a 32-bit address space is what
// the cap is for.
const (
	capSegment   = 1 << 20
	capMapped    = 8 << 20
	capStreams   = 60
	capSegments  = 22
	capEventSize = 2000 // average data bytes
)

func capOptions() *Options {
	return &Options{SegmentSize: capSegment, MaxMappedBytes: capMapped, IndexSlots: 1024}
}

// capData is the data of version v of stream i: its size and bytes follow
// from both, so every read can be checked without keeping the events.
func capData(stream string, v int64) []byte {
	h := uint64(len(stream))*0x9E3779B97F4A7C15 ^ uint64(v+1)*0xBF58476D1CE4E5B9
	for _, c := range []byte(stream) {
		h = (h ^ uint64(c)) * 0x100000001B3
	}
	n := int(h%(2*capEventSize)) + 16
	b := make([]byte, n)
	prefix := fmt.Sprintf("%s/%d/", stream, v)
	for i := range b {
		b[i] = prefix[i%len(prefix)]
	}
	return b
}

func capStream(i int) string { return fmt.Sprintf("cap-%03d", i) }

// fillCapStore appends batches to random streams until the store has
// capSegments segments, counting each stream's events in counts and
// calling appended (if not nil) after each batch to stream i.
func fillCapStore(t *testing.T, s *Store, rng *rand.Rand, counts []int64, appended func(i int)) {
	t.Helper()
	for s.Stats().Segments < capSegments {
		i := rng.IntN(capStreams)
		stream := capStream(i)
		events := make([]Event, 1+rng.IntN(8))
		for k := range events {
			events[k] = Event{Type: "cap", Data: capData(stream, counts[i]+int64(k))}
		}
		appendT(t, s, stream, counts[i]-1, events...)
		counts[i] += int64(len(events))
		if appended != nil {
			appended(i)
		}
	}
}

// checkCapStream reads stream i both ways and checks every event against
// capData: all count of them (at least; a concurrent writer may add more).
func checkCapStream(s *Store, i int, count int64) error {
	stream := capStream(i)
	for _, dir := range []Direction{Forward, Backward} {
		from := int64(0)
		if dir == Backward {
			from = End
		}
		var n int64
		want := int64(-1)
		for e, err := range s.ReadStream(stream, from, dir) {
			if err != nil {
				return fmt.Errorf("%s %v: %w", stream, dir, err)
			}
			if want < 0 {
				want = 0
				if dir == Backward {
					want = e.Version
				}
			}
			if e.Version != want || !bytes.Equal(e.Data, capData(stream, e.Version)) {
				return fmt.Errorf("%s %v: version %d (want %d) reads %d bytes %.40q", stream, dir, e.Version, want, len(e.Data), e.Data)
			}
			n++
			if dir == Forward {
				want++
			} else {
				want--
			}
		}
		if n < count {
			return fmt.Errorf("%s %v: %d events, want at least %d", stream, dir, n, count)
		}
	}
	return nil
}

// checkCapLog reads the whole log and checks every event and the total.
func checkCapLog(s *Store, events int) error {
	n := 0
	for e, err := range s.ReadAll(0) {
		if err != nil {
			return fmt.Errorf("ReadAll: %w", err)
		}
		if !bytes.Equal(e.Data, capData(e.Stream, e.Version)) {
			return fmt.Errorf("ReadAll: %s version %d at %d reads %.40q", e.Stream, e.Version, e.Position, e.Data)
		}
		n++
	}
	if n < events {
		return fmt.Errorf("ReadAll: %d events, want at least %d", n, events)
	}
	return nil
}

func sum(counts []int64) int {
	var n int64
	for _, c := range counts {
		n += c
	}
	return int(n)
}

// TestMappedBytesCap writes a store of 22 segments under a cap of 8
// segments while readers walk random streams and the whole log, then
// checks that every event reads back, that segments were unmapped and
// mapped again, and that, with one reader at a time, the store never
// mapped more than the cap and one segment (without the cap it maps all
// 22). Reopening (clean, and with the index rebuilt from the log) stays
// under the cap too.
func TestMappedBytesCap(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, capOptions())
	rng := rand.New(rand.NewPCG(7, 7))
	counts := make([]int64, capStreams)

	// Concurrent readers while the log grows; they see each stream at
	// least as long as it was when they started reading it.
	var snapshot sync.Mutex
	seen := make([]int64, capStreams)
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(uint64(r), 1))
			for ctx.Err() == nil {
				i := rr.IntN(capStreams)
				snapshot.Lock()
				c := seen[i]
				snapshot.Unlock()
				var err error
				if r == 0 && rr.IntN(20) == 0 {
					err = checkCapLog(s, 0)
				} else {
					err = checkCapStream(s, i, c)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	fillCapStore(t, s, rng, counts, func(i int) {
		snapshot.Lock()
		seen[i] = counts[i]
		snapshot.Unlock()
	})
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.SegmentUnmaps == 0 {
		t.Fatalf("%d segments under a cap of %d bytes, yet nothing was unmapped: %+v", st.Segments, capMapped, st)
	}
	if st.MappedBytes > capMapped {
		t.Fatalf("no reader left, but %d bytes stay mapped (cap %d)", st.MappedBytes, capMapped)
	}
	closeT(t, s)

	// One reader at a time: reads hold at most a few segments, all within
	// the cap, so the cap and the one segment being mapped bound the peak.
	bound := int64(capMapped + capSegment)
	s = openT(t, dir, capOptions())
	for range 20 {
		i := rng.IntN(capStreams)
		if err := checkCapStream(s, i, counts[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkCapLog(s, sum(counts)); err != nil {
		t.Fatal(err)
	}
	checkSubscribeCap(t, s, sum(counts))
	st = s.Stats()
	if st.PeakMappedBytes > bound || st.SegmentMaps < capSegments {
		t.Fatalf("reads of a %d-segment store mapped %d bytes at the peak (cap %d), %d maps", st.Segments, st.PeakMappedBytes, capMapped, st.SegmentMaps)
	}
	t.Logf("%d segments, cap %d MiB: peak %d MiB mapped, %d maps, %d unmaps", st.Segments, capMapped>>20, st.PeakMappedBytes>>20, st.SegmentMaps, st.SegmentUnmaps)

	// A crash, and an Open that must rebuild the index from the whole log.
	s.crashForTest()
	if err := os.Remove(filepath.Join(dir, indexName)); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, capOptions())
	if rec := s.Recovered(); !rec.RebuiltIndex {
		t.Fatalf("open without an index: %+v", rec)
	}
	if st := s.Stats(); st.PeakMappedBytes > bound {
		t.Fatalf("rebuilding the index mapped %d bytes at the peak (cap %d)", st.PeakMappedBytes, capMapped)
	}
	for range 10 {
		i := rng.IntN(capStreams)
		if err := checkCapStream(s, i, counts[i]); err != nil {
			t.Fatal(err)
		}
	}
	closeT(t, s)
}

// checkSubscribeCap follows the log from the start through all events.
func checkSubscribeCap(t *testing.T, s *Store, events int) {
	t.Helper()
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	n := 0
	for e, err := range s.Subscribe(ctx, 0, nil) {
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		if !bytes.Equal(e.Data, capData(e.Stream, e.Version)) {
			t.Fatalf("Subscribe: %s version %d reads %.40q", e.Stream, e.Version, e.Data)
		}
		if n++; n == events {
			break
		}
	}
}

// TestMappingInUseSurvivesEviction holds a log reader in the first segment
// while stream reads map and unmap the others: the held mapping must
// stay (an unmap under it would fault), and the reader then continues.
func TestMappingInUseSurvivesEviction(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, capOptions())
	defer closeT(t, s)
	rng := rand.New(rand.NewPCG(3, 3))
	counts := make([]int64, capStreams)
	fillCapStore(t, s, rng, counts, nil)

	next, stop := iter.Pull2(s.ReadAll(0))
	defer stop()
	first, err, ok := next()
	if !ok || err != nil {
		t.Fatalf("first event: %v %v", ok, err)
	}
	first = first.Clone()
	before := s.Stats().SegmentUnmaps
	for i := range 10 {
		if err := checkCapStream(s, i, counts[i]); err != nil {
			t.Fatal(err)
		}
	}
	if s.Stats().SegmentUnmaps == before {
		t.Fatal("reading streams across all segments unmapped nothing")
	}
	n := 1
	for {
		e, err, ok := next()
		if !ok {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Data, capData(e.Stream, e.Version)) {
			t.Fatalf("after evictions: %s version %d reads %.40q", e.Stream, e.Version, e.Data)
		}
		n++
	}
	if !bytes.Equal(first.Data, capData(first.Stream, first.Version)) || n != sum(counts) {
		t.Fatalf("the held read returned %d events of %d", n, sum(counts))
	}
}

// TestMapAfterCloseFails: a reader that reaches an unmapped segment after
// Close gets ErrClosed, not a mapping of a closed store's file.
func TestMapAfterCloseFails(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, capOptions())
	rng := rand.New(rand.NewPCG(5, 5))
	counts := make([]int64, capStreams)
	fillCapStore(t, s, rng, counts, nil)
	next, stop := iter.Pull2(s.ReadAll(0))
	defer stop()
	if _, err, ok := next(); !ok || err != nil {
		t.Fatalf("first event: %v %v", ok, err)
	}
	closeT(t, s)
	var err error
	for {
		_, e, ok := next()
		if !ok || e != nil {
			err = e
			break
		}
	}
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("reading on after Close: %v, want ErrClosed", err)
	}
	stop() // the reader lets go of its segment
	if st := s.Stats(); st.MappedBytes != 0 {
		t.Fatalf("%d bytes mapped after Close and the last reader", st.MappedBytes)
	}
}

func TestMaxMappedBytesValidated(t *testing.T) {
	o := &Options{SegmentSize: 1 << 20, MaxMappedBytes: 1 << 20}
	wantErrIs(t, o.Validate(), ErrInvalidOptions)
	o.MaxMappedBytes = 2 << 20
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestUnusedMappingsTrimmedAfterReaders: readers that together hold more
// than the cap push the store over it (nothing they hold may go); once
// they let go, the mappings are unmapped down to the cap without waiting
// for the next mapping to be made.
func TestUnusedMappingsTrimmedAfterReaders(t *testing.T) {
	s := openT(t, t.TempDir(), capOptions())
	defer closeT(t, s)
	rng := rand.New(rand.NewPCG(4, 4))
	counts := make([]int64, capStreams)
	fillCapStore(t, s, rng, counts, nil)
	// A first event in each of 12 different 1 MiB ranges of the log, so
	// in (nearly always) 12 different segments.
	var starts []uint64
	for e, err := range s.ReadAll(0) {
		if err != nil {
			t.Fatal(err)
		}
		if len(starts) == 0 || e.Position>>20 != starts[len(starts)-1]>>20 {
			starts = append(starts, e.Position)
		}
	}
	var stops []func()
	for _, p := range starts[:12] {
		next, stop := iter.Pull2(s.ReadAll(p))
		if _, err, ok := next(); !ok || err != nil {
			t.Fatal(ok, err)
		}
		stops = append(stops, stop)
	}
	held := s.Stats().MappedBytes
	for _, stop := range stops {
		stop()
	}
	st := s.Stats()
	if held <= capMapped {
		t.Fatalf("12 readers did not push the store over its cap: %d bytes mapped", held)
	}
	if st.MappedBytes > capMapped {
		t.Fatalf("after the readers stopped, %d bytes stay mapped (cap %d)", st.MappedBytes, capMapped)
	}
}

// TestDefaultCapFitsLargeSegments: a segment size valid on its own is not
// refused because of the default cap (512 MiB on 32-bit, where this test
// bites: CI runs it under qemu-arm): the default grows to two segments.
func TestDefaultCapFitsLargeSegments(t *testing.T) {
	o := &Options{SegmentSize: maxSegmentSize}
	if err := o.Validate(); err != nil {
		t.Fatalf("the largest segment size with the default cap: %v", err)
	}
	if c := o.withDefaults(); c.MaxMappedBytes < 2*maxSegmentSize {
		t.Fatalf("default cap %d below two segments of %d", c.MaxMappedBytes, maxSegmentSize)
	}
}

// TestForwardReadWithMaxAgeKeepsTop: a forward read of a stream with
// MaxAge keeps the segment of the stream's newest event mapped while it
// needs it. The age search seeks through other segments first; the read
// kept the last of those instead, and under a small mapping cap the newest
// event's segment was unmapped and its Data read from reused memory.
func TestForwardReadWithMaxAgeKeepsTop(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{SegmentSize: 64 << 10, MaxMappedBytes: 128 << 10, Durability: NoSync})
	defer closeT(t, s)
	pad := strings.Repeat("x", 2000)
	const n = 400
	for i := range n {
		if i == n-1 {
			for len(*s.segs.Load()) < 16 { // the newest event alone in its segment
				appendT(t, s, "filler", Any, ev(pad))
			}
		}
		appendT(t, s, "aged", int64(i)-1, ev(fmt.Sprintf("%05d", i)+pad))
	}
	for len(*s.segs.Load()) < 18 {
		appendT(t, s, "filler", Any, ev(pad))
	}
	if err := s.SetStreamMetadata(bg, "aged", StreamMetadata{MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		i := 0
		for e, err := range s.ReadStream("aged", 0, Forward) {
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%05d", i) + pad; e.Version != int64(i) || string(e.Data) != want || e.Type != "test" {
				t.Fatalf("event %d: version %d type %q data %.10q", i, e.Version, e.Type, e.Data)
			}
			i++
		}
		if i != n {
			t.Fatalf("%d events, want %d", i, n)
		}
	}
}
