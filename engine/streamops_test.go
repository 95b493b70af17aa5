package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/recovery"
)

// reopenings runs check on the store as it is, then after a crash (the
// index replayed from its checkpoint over the records written since the
// store was opened), after a clean reopen, and after losing the index
// (rebuilt from the log): system records must mean the same on every
// path. It returns the last store.
func reopenings(t *testing.T, dir string, o *Options, s *Store, check func(t *testing.T, s *Store, how string)) *Store {
	t.Helper()
	return reopeningsVerified(t, dir, o, s, check, true)
}

// reopeningsVerified is reopenings, with recovery.Verify run on the
// cleanly closed store only when verify is set.
func reopeningsVerified(t *testing.T, dir string, o *Options, s *Store, check func(t *testing.T, s *Store, how string), verify bool) *Store {
	t.Helper()
	check(t, s, "live")
	s.crashForTest()
	s = openT(t, dir, o)
	if !s.Recovered().ReplayedIndex {
		t.Fatalf("open after crash: %+v", s.Recovered())
	}
	check(t, s, "after crash")
	closeT(t, s)
	if verify {
		verifyClean(t, dir)
	}
	s = openT(t, dir, o)
	check(t, s, "clean reopen")
	closeT(t, s)
	if err := os.Remove(filepath.Join(dir, indexName)); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, o)
	if !s.Recovered().RebuiltIndex {
		t.Fatalf("open without index: %+v", s.Recovered())
	}
	check(t, s, "rebuilt index")
	return s
}

// verifyClean runs recovery.Verify on a closed store and fails on any
// problem: the index entries (state, system record) must agree with what
// the log says.
func verifyClean(t *testing.T, dir string) {
	t.Helper()
	rep, err := recovery.Verify(dir, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(rep.Problems) > 0 || !rep.IndexChecked {
		t.Fatalf("Verify: problems %v, index checked %v, notes %v", rep.Problems, rep.IndexChecked, rep.Notes)
	}
}

func versionT(t *testing.T, s *Store, stream string) int64 {
	t.Helper()
	v, err := s.StreamVersion(stream)
	if err != nil {
		t.Fatalf("StreamVersion(%q): %v", stream, err)
	}
	return v
}

func versions(events []RecordedEvent) []int64 {
	var out []int64
	for _, e := range events {
		out = append(out, e.Version)
	}
	return out
}

func wantVersions(t *testing.T, what string, got []RecordedEvent, want ...int64) {
	t.Helper()
	g := versions(got)
	if len(g) != len(want) {
		t.Fatalf("%s: versions %v, want %v", what, g, want)
	}
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("%s: versions %v, want %v", what, g, want)
		}
	}
}

// streamEvents returns the versions of stream's events in a whole-log read.
func streamEvents(t *testing.T, s *Store, stream string) []RecordedEvent {
	t.Helper()
	var out []RecordedEvent
	for _, e := range collect(t, s.ReadAll(0)) {
		if e.Stream == stream {
			out = append(out, e)
		}
	}
	return out
}

func TestDeleteStream(t *testing.T) {
	for _, d := range []Durability{SyncEachCommit, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			o := &Options{Durability: d}
			s := openT(t, dir, o)
			appendT(t, s, "a", NoStream, ev("0"), ev("1"), ev("2"))
			appendT(t, s, "other", NoStream, ev("x"))
			if err := s.DeleteStream(bg, "a", 1); !errors.Is(err, ErrWrongExpectedVersion) {
				t.Fatalf("DeleteStream with a stale version: %v", err)
			}
			if err := s.DeleteStream(bg, "a", 2); err != nil {
				t.Fatal(err)
			}
			s = reopenings(t, dir, o, s, func(t *testing.T, s *Store, how string) {
				if v := versionT(t, s, "a"); v != NoStream {
					t.Fatalf("%s: version of a deleted stream %d", how, v)
				}
				wantVersions(t, how+": forward", collect(t, s.ReadStream("a", 0, Forward)))
				wantVersions(t, how+": backward", collect(t, s.ReadStream("a", End, Backward)))
				wantVersions(t, how+": log", streamEvents(t, s, "a"))
				wantVersions(t, how+": other stream", collect(t, s.ReadStream("other", 0, Forward)), 0)
				if md, err := s.StreamMetadata("a"); err != nil || md.TruncateBefore != 3 {
					t.Fatalf("%s: metadata %v, %v", how, md, err)
				}
			})
			defer func() { _ = s.Close() }()

			// StreamExists does not match a deleted stream; NoStream does,
			// and the versions continue.
			var we *WrongExpectedVersionError
			if _, err := s.Append(bg, "a", StreamExists, ev("3")); !errors.As(err, &we) || we.Actual != NoStream {
				t.Fatalf("StreamExists on a deleted stream: %v", err)
			}
			// Neither does the version the stream had when it was
			// deleted: a writer that read the stream before the delete
			// must not revive it unknowingly (a lost update).
			if _, err := s.Append(bg, "a", 2, ev("3")); !errors.As(err, &we) || we.Actual != NoStream {
				t.Fatalf("the old last version on a deleted stream: %v", err)
			}
			if err := s.DeleteStream(bg, "a", 2); !errors.As(err, &we) || we.Actual != NoStream {
				t.Fatalf("deleting again with the old last version: %v", err)
			}
			res := appendT(t, s, "a", NoStream, evID(7, "3"), evID(8, "4"))
			if res.FirstVersion != 3 || res.LastVersion != 4 {
				t.Fatalf("append after delete: %+v", res)
			}
			// A retry of it is recognised.
			again, err := s.Append(bg, "a", NoStream, evID(7, "3"), evID(8, "4"))
			if err != nil || again != res {
				t.Fatalf("retried append after delete: %+v, %v; first %+v", again, err, res)
			}
			if _, err := s.Append(bg, "a", NoStream, ev("5")); !errors.As(err, &we) || we.Actual != 4 {
				t.Fatalf("NoStream on a revived stream: %v", err)
			}
			s = reopenings(t, dir, o, s, func(t *testing.T, s *Store, how string) {
				if v := versionT(t, s, "a"); v != 4 {
					t.Fatalf("%s: version %d", how, v)
				}
				wantVersions(t, how+": forward", collect(t, s.ReadStream("a", 0, Forward)), 3, 4)
				wantVersions(t, how+": backward", collect(t, s.ReadStream("a", End, Backward)), 4, 3)
				wantVersions(t, how+": backward from 2", collect(t, s.ReadStream("a", 2, Backward)))
				wantVersions(t, how+": log", streamEvents(t, s, "a"), 3, 4)
			})
			closeT(t, s)
		})
	}
}

func TestTombstoneStream(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, nil)
	appendT(t, s, "t", NoStream, ev("0"), ev("1"))
	appendT(t, s, "u", NoStream, ev("0"))
	if err := s.TombstoneStream(bg, "t", NoStream); !errors.Is(err, ErrWrongExpectedVersion) {
		t.Fatalf("tombstone with NoStream: %v", err)
	}
	if err := s.TombstoneStream(bg, "t", 1); err != nil {
		t.Fatal(err)
	}
	// A stream that never existed can be tombstoned too: its name is
	// taken for good.
	if err := s.TombstoneStream(bg, "never", NoStream); err != nil {
		t.Fatal(err)
	}
	s = reopenings(t, dir, nil, s, func(t *testing.T, s *Store, how string) {
		for _, stream := range []string{"t", "never"} {
			_, err := s.Append(bg, stream, Any, ev("x"))
			wantErrIs(t, err, ErrStreamDeleted)
			_, err = s.StreamVersion(stream)
			wantErrIs(t, err, ErrStreamDeleted)
			_, err = collectErr(s.ReadStream(stream, 0, Forward))
			wantErrIs(t, err, ErrStreamDeleted)
			_, err = collectErr(s.ReadStream(stream, End, Backward))
			wantErrIs(t, err, ErrStreamDeleted)
			wantErrIs(t, s.DeleteStream(bg, stream, Any), ErrStreamDeleted)
			wantErrIs(t, s.TombstoneStream(bg, stream, Any), ErrStreamDeleted)
			wantErrIs(t, s.SetStreamMetadata(bg, stream, StreamMetadata{}), ErrStreamDeleted)
			_, err = s.StreamMetadata(stream)
			wantErrIs(t, err, ErrStreamDeleted)
			if !strings.Contains(err.Error(), stream) {
				t.Fatalf("%s: error %q does not name the stream", how, err)
			}
		}
		wantVersions(t, how+": log", streamEvents(t, s, "t"))
		wantVersions(t, how+": other stream", collect(t, s.ReadStream("u", 0, Forward)), 0)
	})
	closeT(t, s)
}

func TestStreamMetadataRetention(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, nil)
	for i := range 6 {
		appendT(t, s, "r", int64(i)-1, ev("e"))
	}
	// Metadata on a stream without events, which is then written.
	if err := s.SetStreamMetadata(bg, "fresh", StreamMetadata{MaxCount: 1}); err != nil {
		t.Fatal(err)
	}
	if v := versionT(t, s, "fresh"); v != NoStream {
		t.Fatalf("version of a stream with metadata only: %d", v)
	}
	appendT(t, s, "fresh", NoStream, ev("0"))
	appendT(t, s, "fresh", 0, ev("1"))

	if err := s.SetStreamMetadata(bg, "r", StreamMetadata{MaxCount: 4, TruncateBefore: 3}); err != nil {
		t.Fatal(err)
	}
	s = reopenings(t, dir, nil, s, func(t *testing.T, s *Store, how string) {
		// TruncateBefore 3 wins over MaxCount 4 (which keeps 2..5).
		wantVersions(t, how+": forward", collect(t, s.ReadStream("r", 0, Forward)), 3, 4, 5)
		wantVersions(t, how+": forward from 4", collect(t, s.ReadStream("r", 4, Forward)), 4, 5)
		wantVersions(t, how+": backward", collect(t, s.ReadStream("r", End, Backward)), 5, 4, 3)
		wantVersions(t, how+": backward from 3", collect(t, s.ReadStream("r", 3, Backward)), 3)
		wantVersions(t, how+": log", streamEvents(t, s, "r"), 3, 4, 5)
		wantVersions(t, how+": fresh", collect(t, s.ReadStream("fresh", 0, Forward)), 1)
		if v := versionT(t, s, "r"); v != 5 {
			t.Fatalf("%s: version %d", how, v)
		}
	})
	// MaxCount follows appends, in stream and log reads alike.
	if err := s.SetStreamMetadata(bg, "r", StreamMetadata{MaxCount: 2}); err != nil {
		t.Fatal(err)
	}
	appendT(t, s, "r", 5, ev("6"))
	wantVersions(t, "MaxCount 2", collect(t, s.ReadStream("r", 0, Forward)), 5, 6)
	wantVersions(t, "MaxCount 2 log", streamEvents(t, s, "r"), 5, 6)
	// MaxAge hides what is older.
	if err := s.SetStreamMetadata(bg, "r", StreamMetadata{MaxAge: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	wantVersions(t, "MaxAge", collect(t, s.ReadStream("r", 0, Forward)))
	wantVersions(t, "MaxAge log", streamEvents(t, s, "r"))
	// Loosening retention does not bring hidden events back: the new
	// TruncateBefore records what was hidden.
	if err := s.SetStreamMetadata(bg, "r", StreamMetadata{MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	wantVersions(t, "MaxAge 1h", collect(t, s.ReadStream("r", 0, Forward)))
	if md, err := s.StreamMetadata("r"); err != nil || md != (StreamMetadata{MaxAge: time.Hour, TruncateBefore: 7}) {
		t.Fatalf("metadata after loosening: %v, %v", md, err)
	}
	if v := versionT(t, s, "r"); v != NoStream {
		t.Fatalf("version with every event hidden by TruncateBefore: %d", v)
	}
	appendT(t, s, "r", NoStream, ev("7"))
	wantVersions(t, "after loosening", collect(t, s.ReadStream("r", 0, Forward)), 7)

	wantErrIs(t, s.SetStreamMetadata(bg, "r", StreamMetadata{MaxCount: -1}), ErrInvalidMetadata)
	wantErrIs(t, s.SetStreamMetadata(bg, "", StreamMetadata{}), ErrInvalidStreamID)
	wantErrIs(t, s.DeleteStream(bg, "r", -3), ErrInvalidExpectedVersion)
	_, err := s.StreamMetadata(strings.Repeat("x", MaxStreamIDLen+1))
	wantErrIs(t, err, ErrInvalidStreamID)
	closeT(t, s)
	wantErrIs(t, s.DeleteStream(bg, "r", Any), ErrClosed)
	wantErrIs(t, s.SetStreamMetadata(bg, "r", StreamMetadata{}), ErrClosed)
}

// TestIndexStateOfSystemRecords checks the index entry each kind of system
// record leaves, through the hashindex API: the state byte and the aux
// word that names the newest system record; and that replaying and
// rebuilding the index derive the same entries from the log.
func TestIndexStateOfSystemRecords(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, nil)
	entry := func(s *Store, stream string) hashindex.Entry {
		t.Helper()
		e, ok, err := s.index.Lookup(hashindex.FingerprintString(stream), nil)
		if err != nil || !ok {
			t.Fatalf("Lookup(%q): %v, %v", stream, ok, err)
		}
		return e
	}
	appendT(t, s, "a", NoStream, ev("0"))
	if e := entry(s, "a"); e.State != hashindex.Live || e.Aux != 0 {
		t.Fatalf("plain stream: %+v", e)
	}
	if err := s.DeleteStream(bg, "a", Any); err != nil {
		t.Fatal(err)
	}
	if e := entry(s, "a"); e.State != hashindex.Deleted || e.Aux == 0 || e.Version != 0 {
		t.Fatalf("deleted stream: %+v", e)
	}
	appendT(t, s, "a", NoStream, ev("1"))
	if err := s.DeleteStream(bg, "d", Any); err != nil {
		t.Fatal(err)
	}
	if err := s.TombstoneStream(bg, "b", Any); err != nil {
		t.Fatal(err)
	}
	appendT(t, s, "c", NoStream, ev("0"))
	if err := s.TombstoneStream(bg, "c", 0); err != nil {
		t.Fatal(err)
	}
	s = reopenings(t, dir, nil, s, func(t *testing.T, s *Store, how string) {
		if e := entry(s, "a"); e.State != hashindex.Live || e.Aux == 0 || e.Version != 1 {
			t.Fatalf("%s: revived stream: %+v", how, e)
		}
		if e := entry(s, "d"); e.State != hashindex.Deleted || e.Version != -1 || e.Tail != e.Aux-1 {
			t.Fatalf("%s: deleted new stream: %+v", how, e)
		}
		if e := entry(s, "b"); e.State != hashindex.Tombstoned || e.Version != -1 || e.Tail != e.Aux-1 {
			t.Fatalf("%s: tombstoned new stream: %+v", how, e)
		}
		if e := entry(s, "c"); e.State != hashindex.Tombstoned || e.Version != 0 || e.Tail >= e.Aux-1 {
			t.Fatalf("%s: tombstoned stream: %+v", how, e)
		}
		if n := s.index.Annotated(); n != 4 {
			t.Fatalf("%s: Annotated() = %d, want 4", how, n)
		}
	})
	closeT(t, s)
}

// TestMaxAgeHidesAPrefix moves the store's clock: events stamped before
// the MaxAge horizon are hidden, found by binary search over the stream
// (stamps never go back, so they are a prefix), in every kind of read.
func TestMaxAgeHidesAPrefix(t *testing.T) {
	var clock int64 = 1_000_000
	useClock(t, &clock)

	s := openT(t, t.TempDir(), nil)
	defer func() { _ = s.Close() }()
	for i := range 40 {
		appendT(t, s, "aged", int64(i)-1, ev("e"))
		clock += 10
	}
	// Stamps never go back, even when the clock does.
	clock -= 1000
	res := appendT(t, s, "aged", 39, ev("late"))
	clock += 1000
	if e := collect(t, s.ReadStream("aged", End, Backward))[0]; e.Version != res.FirstVersion || e.Time.UnixNano() != 1_000_000+390 {
		t.Fatalf("event appended after the clock went back: version %d stamped %d", e.Version, e.Time.UnixNano())
	}
	// Now = 1_000_400; events 0..39 are stamped 1_000_000 + 10 v, event 40
	// 1_000_390. MaxAge 275 hides stamps <= 1_000_125: versions 0..12.
	if err := s.SetStreamMetadata(bg, "aged", StreamMetadata{MaxAge: 275}); err != nil {
		t.Fatal(err)
	}
	want := func(lo int64) []int64 {
		var v []int64
		for i := lo; i <= 40; i++ {
			v = append(v, i)
		}
		return v
	}
	wantVersions(t, "forward", collect(t, s.ReadStream("aged", 0, Forward)), want(13)...)
	wantVersions(t, "forward from 20", collect(t, s.ReadStream("aged", 20, Forward)), want(20)...)
	back := collect(t, s.ReadStream("aged", End, Backward))
	slices.Reverse(back)
	wantVersions(t, "backward", back, want(13)...)
	wantVersions(t, "backward from 12", collect(t, s.ReadStream("aged", 12, Backward)))
	wantVersions(t, "log", streamEvents(t, s, "aged"), want(13)...)
	if v := versionT(t, s, "aged"); v != 40 {
		t.Fatalf("version %d", v)
	}
	// Time passes: more is hidden.
	clock += 100
	wantVersions(t, "later", collect(t, s.ReadStream("aged", 0, Forward)), want(23)...)
	// Dropping MaxAge keeps hidden what it hid.
	if err := s.SetStreamMetadata(bg, "aged", StreamMetadata{}); err != nil {
		t.Fatal(err)
	}
	if md, _ := s.StreamMetadata("aged"); md.TruncateBefore != 23 {
		t.Fatalf("TruncateBefore after dropping MaxAge: %v", md)
	}
	wantVersions(t, "no MaxAge", collect(t, s.ReadStream("aged", 0, Forward)), want(23)...)
}

// TestSubscribeSkipsHiddenEvents: a subscription catching up skips what
// retention hides, like ReadAll, and delivers what comes later.
func TestSubscribeSkipsHiddenEvents(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer func() { _ = s.Close() }()
	appendT(t, s, "a", NoStream, ev("a0"), ev("a1"))
	appendT(t, s, "b", NoStream, ev("b0"))
	if err := s.DeleteStream(bg, "a", Any); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var got []string
	for e, err := range s.Subscribe(ctx, 0, nil) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%d", e.Stream, e.Version))
		if len(got) == 1 {
			appendT(t, s, "a", NoStream, ev("a2")) // revives a: delivered live
		}
		if len(got) == 2 {
			break
		}
	}
	if want := []string{"b/0", "a/2"}; !slices.Equal(got, want) {
		t.Fatalf("subscription delivered %v, want %v", got, want)
	}
	got = got[:0]
	for e, err := range s.SubscribeStream(ctx, "a", 0) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%d", e.Stream, e.Version))
		break
	}
	if want := []string{"a/2"}; !slices.Equal(got, want) {
		t.Fatalf("stream subscription delivered %v, want %v", got, want)
	}
}

// TestStampsNeverGoBackAcrossReopen: a stream's stamps stay in order when
// the clock went back while the store was closed (or crashed), so that
// MaxAge still hides a prefix of it. The stamp of a stream's newest event
// is found again at its tail, whichever way the index was opened.
func TestStampsNeverGoBackAcrossReopen(t *testing.T) {
	var clock int64 = 2_000_000
	useClock(t, &clock)

	dir := t.TempDir()
	s := openT(t, dir, nil)
	version := int64(-1)
	for round, reopen := range []string{"crash", "clean", "rebuild"} {
		for range 5 {
			version = appendT(t, s, "clocked", version, ev("e")).LastVersion
			clock += 10
		}
		switch reopen {
		case "crash":
			s.crashForTest()
		default:
			closeT(t, s)
			if reopen == "rebuild" {
				if err := os.Remove(filepath.Join(dir, indexName)); err != nil {
					t.Fatal(err)
				}
			}
		}
		clock -= 1000 // the clock goes back while the store is closed
		s = openT(t, dir, nil)
		res := appendT(t, s, "clocked", version, ev("after "+reopen))
		version = res.LastVersion
		var last int64
		for _, e := range collect(t, s.ReadStream("clocked", 0, Forward)) {
			if ts := e.Time.UnixNano(); ts < last {
				t.Fatalf("round %d, after %s reopen: version %d stamped %d, before the %d of an older event", round, reopen, e.Version, ts, last)
			}
			last = e.Time.UnixNano()
		}
	}
	closeT(t, s)
}

// TestStreamStampsAheadOfTheClockStayTheirs: after a reopen with the clock
// set back, a stream stamped ahead keeps its order, but its stamp does not
// spread to other streams (their MaxAge would start late), not even
// through an append that fails.
func TestStreamStampsAheadOfTheClockStayTheirs(t *testing.T) {
	var clock int64 = 1_700_000_000_000_000_000
	useClock(t, &clock)
	dir := t.TempDir()
	s := openT(t, dir, nil)
	appendT(t, s, "ahead", NoStream, ev("a"))
	closeT(t, s)
	clock -= int64(24 * time.Hour) // the clock is corrected back by a day
	s = openT(t, dir, nil)
	defer closeT(t, s)
	if _, err := s.Append(bg, "ahead", 7, ev("x")); !errors.Is(err, ErrWrongExpectedVersion) {
		t.Fatalf("append with a wrong version: %v", err)
	}
	appendT(t, s, "ahead", 0, ev("b"))
	appendT(t, s, "other", NoStream, ev("c"))
	if got := collect(t, s.ReadStream("other", 0, Forward)); got[0].Time.UnixNano() != clock {
		t.Fatalf("a stream without history stamped %d, the clock says %d", got[0].Time.UnixNano(), clock)
	}
	if got := collect(t, s.ReadStream("ahead", 0, Forward)); got[1].Time.Before(got[0].Time) {
		t.Fatalf("stream stamped ahead: version 1 at %v before version 0 at %v", got[1].Time, got[0].Time)
	}
}
