package engine

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/spooldb/spool/hashindex"
)

// TestTooManyStreams lowers the largest index table to 256 slots (192
// streams), as a 32-bit platform's is 2^24, and fills it: the stream past
// the limit is refused with ErrTooManyStreams before anything is written,
// the store keeps serving the streams it has, and every way of opening it
// again (after Close, after a crash, without its index) finds them all.
func TestTooManyStreams(t *testing.T) {
	defer hashindex.SetMaxSlotsForTest(256)()
	limit := int(hashindex.StreamLimit())
	for _, d := range []Durability{SyncEachCommit, SyncInterval, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{Durability: d, SegmentSize: 256 << 10, IndexSlots: 16}
			s := openT(t, dir, opts)

			// Concurrent appenders: in SyncEachCommit mode the new
			// streams wait in pending for their commit, and count.
			versions := map[string]int64{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 30 {
						stream := fmt.Sprintf("c-%d-%d", g, i)
						_, err := s.Append(bg, stream, NoStream, ev(stream))
						switch {
						case err == nil:
							mu.Lock()
							versions[stream] = 0
							mu.Unlock()
						case !errors.Is(err, ErrTooManyStreams):
							t.Errorf("Append(%s): %v", stream, err)
						}
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			if len(versions) > limit || s.Stats().Streams != len(versions) {
				t.Fatalf("%d appends of new streams acknowledged, the index holds %d, the limit is %d",
					len(versions), s.Stats().Streams, limit)
			}
			// Then one at a time: with nothing pending, exactly up to the limit.
			for i := 0; ; i++ {
				stream := fmt.Sprintf("s-%d", i)
				_, err := s.Append(bg, stream, NoStream, ev(stream))
				if errors.Is(err, ErrTooManyStreams) {
					break
				}
				if err != nil {
					t.Fatalf("Append(%s): %v", stream, err)
				}
				versions[stream] = 0
			}
			if len(versions) != limit || s.Stats().Streams != limit {
				t.Fatalf("refused at %d streams (index %d), want %d", len(versions), s.Stats().Streams, limit)
			}
			checkRefused(t, s)
			// The streams it holds take appends and metadata.
			held := slices.Sorted(maps.Keys(versions))
			appendT(t, s, held[0], 0, ev("second"))
			versions[held[0]] = 1
			if err := s.SetStreamMetadata(bg, held[1], StreamMetadata{MaxCount: 5}); err != nil {
				t.Fatal(err)
			}
			closeT(t, s)

			s = openT(t, dir, opts)
			checkStreamCount(t, s, versions)
			checkRefused(t, s)
			s.crashForTest()

			s = openT(t, dir, opts)
			checkStreamCount(t, s, versions)
			checkRefused(t, s)
			closeT(t, s)

			// A rebuild sizes its table for the streams of the log: twice
			// their count would be 384 slots, more than the largest.
			if err := os.Remove(filepath.Join(dir, indexName)); err != nil {
				t.Fatal(err)
			}
			s = openT(t, dir, opts)
			checkStreamCount(t, s, versions)
			checkRefused(t, s)
			closeT(t, s)
		})
	}
}

// checkRefused fails unless every call that would create a stream gets
// ErrTooManyStreams and leaves the store usable.
func checkRefused(t *testing.T, s *Store) {
	t.Helper()
	_, err := s.Append(bg, "new", Any, ev("x"))
	wantErrIs(t, err, ErrTooManyStreams)
	wantErrIs(t, s.SetStreamMetadata(bg, "new", StreamMetadata{MaxCount: 1}), ErrTooManyStreams)
	wantErrIs(t, s.DeleteStream(bg, "new", Any), ErrTooManyStreams)
	wantErrIs(t, s.TombstoneStream(bg, "new", Any), ErrTooManyStreams)
	if v, err := s.StreamVersion("new"); err != nil || v != NoStream {
		t.Fatalf("StreamVersion of the refused stream: %d, %v", v, err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync after the refusals: %v", err)
	}
}

// checkStreamCount fails unless each stream reads back at its version, with
// its first event's data its name.
func checkStreamCount(t *testing.T, s *Store, versions map[string]int64) {
	t.Helper()
	if got := s.Stats().Streams; got != len(versions) {
		t.Fatalf("index holds %d streams, want %d", got, len(versions))
	}
	for stream, v := range versions {
		evs := collect(t, s.ReadStream(stream, 0, Forward))
		if len(evs) != int(v)+1 || string(evs[0].Data) != stream {
			t.Fatalf("stream %s: %d events (first %q), want %d", stream, len(evs), evs[0].Data, v+1)
		}
	}
}
