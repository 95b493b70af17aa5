package engine

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestExpectedVersion(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer closeT(t, s)

	wrong := func(stream string, expected, actual int64, events ...Event) {
		t.Helper()
		_, err := s.Append(bg, stream, expected, events...)
		wantErrIs(t, err, ErrWrongExpectedVersion)
		var we *WrongExpectedVersionError
		if !errors.As(err, &we) || we.Actual != actual || we.Expected != expected || we.Stream != stream {
			t.Fatalf("error %v: want actual %d expected %d", err, actual, expected)
		}
	}

	wrong("a", StreamExists, NoStream, ev("x"))
	wrong("a", 0, NoStream, ev("x"))
	if r := appendT(t, s, "a", NoStream, ev("0"), ev("1")); r.FirstVersion != 0 || r.LastVersion != 1 {
		t.Fatalf("result %+v", r)
	}
	wrong("a", NoStream, 1, ev("x"))
	wrong("a", 0, 1, ev("x"))
	wrong("a", 5, 1, ev("x"))
	if r := appendT(t, s, "a", 1, ev("2")); r.FirstVersion != 2 || r.LastVersion != 2 {
		t.Fatalf("result %+v", r)
	}
	if r := appendT(t, s, "a", StreamExists, ev("3")); r.FirstVersion != 3 {
		t.Fatalf("result %+v", r)
	}
	if r := appendT(t, s, "a", Any, ev("4")); r.FirstVersion != 4 {
		t.Fatalf("result %+v", r)
	}
	if r := appendT(t, s, "b", Any, ev("0")); r.FirstVersion != 0 {
		t.Fatalf("result %+v", r)
	}
	if v, err := s.StreamVersion("a"); err != nil || v != 4 {
		t.Fatalf("StreamVersion = %d, %v", v, err)
	}
	if v, err := s.StreamVersion("nope"); err != nil || v != NoStream {
		t.Fatalf("StreamVersion(nope) = %d, %v", v, err)
	}
	got := collect(t, s.ReadStream("a", 0, Forward))
	if len(got) != 5 {
		t.Fatalf("read %d events", len(got))
	}
	for i, e := range got {
		if e.Version != int64(i) || string(e.Data) != string(rune('0'+i)) {
			t.Fatalf("event %d = %d %q", i, e.Version, e.Data)
		}
	}
}

func TestIdempotentRetry(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer closeT(t, s)

	first := appendT(t, s, "s", NoStream, evID(1, "a"), evID(2, "b"))
	appendT(t, s, "s", 1, evID(3, "c"))
	before := s.Stats().Events

	// The same append again, with the same expected version: nothing written.
	again := appendT(t, s, "s", NoStream, evID(1, "a"), evID(2, "b"))
	if again != first {
		t.Fatalf("retry result %+v, first %+v", again, first)
	}
	third := appendT(t, s, "s", 1, evID(3, "c"))
	if third.FirstVersion != 2 || third.LastVersion != 2 {
		t.Fatalf("retry of the second append: %+v", third)
	}
	// A retry of a prefix of what follows is a retry too.
	if r := appendT(t, s, "s", NoStream, evID(1, "a")); r.FirstVersion != 0 || r.LastVersion != 0 {
		t.Fatalf("prefix retry: %+v", r)
	}
	if n := s.Stats().Events; n != before {
		t.Fatalf("retries wrote %d events", n-before)
	}
	// Different IDs, missing IDs, or more events than follow: a conflict.
	for _, events := range [][]Event{
		{evID(9, "a"), evID(2, "b")},
		{ev("a"), ev("b")},
		{evID(1, "a"), evID(2, "b"), evID(3, "c"), evID(4, "d")},
	} {
		_, err := s.Append(bg, "s", NoStream, events...)
		wantErrIs(t, err, ErrWrongExpectedVersion)
	}
	// Any never deduplicates.
	appendT(t, s, "s", Any, evID(1, "a"))
	if v, _ := s.StreamVersion("s"); v != 3 {
		t.Fatalf("version after Any = %d", v)
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{SegmentSize: 1 << 20})
	limit := maxBatchBytes(1 << 20)
	big := make([]byte, limit)
	half := make([]byte, limit/2)
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	cases := []struct {
		name     string
		ctx      context.Context
		stream   string
		expected int64
		events   []Event
		want     error
	}{
		{"empty stream", bg, "", Any, []Event{ev("x")}, ErrInvalidStreamID},
		{"long stream", bg, strings.Repeat("s", MaxStreamIDLen+1), Any, []Event{ev("x")}, ErrInvalidStreamID},
		{"no events", bg, "s", Any, nil, ErrTooManyEvents},
		{"too many events", bg, "s", Any, make([]Event, MaxEventsPerAppend+1), ErrTooManyEvents},
		{"long type", bg, "s", Any, []Event{{Type: strings.Repeat("t", MaxEventTypeLen+1)}}, ErrInvalidEvent},
		{"event too large", bg, "s", Any, []Event{{Data: big}}, ErrEventTooLarge},
		{"batch too large", bg, "s", Any, []Event{{Data: half}, {Data: half}, {Data: half}}, ErrBatchTooLarge},
		{"bad expected", bg, "s", -3, []Event{ev("x")}, ErrInvalidExpectedVersion},
		{"cancelled", cancelled, "s", Any, []Event{ev("x")}, context.Canceled},
	}
	for _, c := range cases {
		_, err := s.Append(c.ctx, c.stream, c.expected, c.events...)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	if n := s.Stats().Events; n != 0 {
		t.Fatalf("rejected appends wrote %d events", n)
	}
	// The largest event that fits does fit, and so does a segment-filling batch.
	exact := make([]byte, limit-int64(len("s"))-104)
	appendT(t, s, "s", Any, Event{Data: exact})
	appendT(t, s, "s", Any, Event{Data: half}, Event{Data: half[:len(half)-224]}) // exactly fills a segment
	closeT(t, s)

	_, err := s.Append(bg, "s", Any, ev("x"))
	wantErrIs(t, err, ErrClosed)
	wantErrIs(t, s.Close(), ErrClosed)
	_, err = collectErr(s.ReadStream("s", 0, Forward))
	wantErrIs(t, err, ErrClosed)
	_, err = collectErr(s.ReadAll(0))
	wantErrIs(t, err, ErrClosed)
	_, err = s.StreamVersion("s")
	wantErrIs(t, err, ErrClosed)
	wantErrIs(t, s.Sync(), ErrClosed)
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{Durability: 7},
		{SegmentSize: 1000},
		{SegmentSize: 2 << 30},
		{SegmentSize: 1<<20 + 4},
		{SyncInterval: -1},
		{SegmentPrep: 9},
		// Would zero-fill an index file of 768 MiB + 48 bytes, or 48 TiB,
		// before failing.
		{IndexSlots: maxIndexSlots + 1},
		{IndexSlots: 1 << 40},
	}
	for _, o := range bad {
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: Validate() = %v", o, err)
		}
		if _, err := Open(t.TempDir(), &o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: Open error %v", o, err)
		}
	}
	var nilOpts *Options
	if err := nilOpts.Validate(); err != nil {
		t.Fatalf("nil options: %v", err)
	}
	if s := nilOpts.String(); !strings.Contains(s, "durability=SyncEachCommit") || !strings.Contains(s, "segment=") {
		t.Fatalf("String() = %q", s)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, nil)
	_, err := Open(dir, nil)
	wantErrIs(t, err, ErrLocked)
	closeT(t, s)
	closeT(t, openT(t, dir, nil))
}

// TestReopenWithLargerSegments appends, after a reopen with a larger
// SegmentSize, a batch that fits only the new size, while the active
// segment is an empty one of the old size: the empty segment is replaced,
// not followed by a second one at the same base, and the events read back
// at once and after another reopen.
func TestReopenWithLargerSegments(t *testing.T) {
	for _, d := range []Durability{SyncEachCommit, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			closeT(t, openT(t, dir, &Options{Durability: d, SegmentSize: 64 << 10}))
			o := &Options{Durability: d, SegmentSize: 1 << 20}
			s := openT(t, dir, o)
			big := Event{Type: "t", Data: bytes.Repeat([]byte("x"), 100<<10)}
			appendT(t, s, "a", NoStream, big)
			appendT(t, s, "a", 0, ev("small"))
			if n := len(*s.segs.Load()); n != 1 {
				t.Errorf("%d segments listed, want 1", n)
			}
			check := func(s *Store) {
				t.Helper()
				got := collect(t, s.ReadStream("a", 0, Forward))
				if len(got) != 2 || !bytes.Equal(got[0].Data, big.Data) || string(got[1].Data) != "small" {
					t.Fatalf("read back %d events", len(got))
				}
				if all := collect(t, s.ReadAll(0)); len(all) != 2 {
					t.Fatalf("ReadAll: %d events, want 2", len(all))
				}
			}
			check(s)
			closeT(t, s)
			s = openT(t, dir, o)
			defer closeT(t, s)
			check(s)
		})
	}
}

// TestNoStreamRetryAfterTruncateBeforeRaised: a NoStream append created a
// stream, then its TruncateBefore was raised, hiding part of the batch
// but removing nothing yet. A retry of the append was looked for at the
// new TruncateBefore only and refused with WrongExpectedVersion; the
// batch is where the stream began, at version 0, and the retry finds it.
func TestNoStreamRetryAfterTruncateBeforeRaised(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer closeT(t, s)
	first := appendT(t, s, "a", NoStream, evID(1, "a"), evID(2, "b"))
	if err := s.SetStreamMetadata(bg, "a", StreamMetadata{TruncateBefore: 1}); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Events
	again, err := s.Append(bg, "a", NoStream, evID(1, "a"), evID(2, "b"))
	if err != nil || again != first || s.Stats().Events != before {
		t.Fatalf("retry: %+v, %v (first %+v), %d events written", again, err, first, s.Stats().Events-before)
	}
	// Not a retry: other IDs.
	if _, err := s.Append(bg, "a", NoStream, evID(3, "c")); !errors.Is(err, ErrWrongExpectedVersion) {
		t.Fatalf("NoStream append to the existing stream: %v", err)
	}
}

// TestNoStreamRetryBelowTruncateBefore: with TruncateBefore set past a
// stream's end, a NoStream append lands hidden below it and the stream
// still reads as not existing. Its retry passed the NoStream check and
// wrote the events a second time; it must find them and write nothing.
// An append with the same IDs as events hidden before the TruncateBefore
// was set is no retry: those were written before it.
func TestNoStreamRetryBelowTruncateBefore(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer closeT(t, s)
	appendT(t, s, "a", NoStream, evID(1, "a"), evID(2, "b"))
	if err := s.SetStreamMetadata(bg, "a", StreamMetadata{TruncateBefore: 100}); err != nil {
		t.Fatal(err)
	}
	// Same IDs as the hidden events before the metadata: not a retry.
	again := appendT(t, s, "a", NoStream, evID(1, "a"), evID(2, "b"))
	if again.FirstVersion != 2 {
		t.Fatalf("append after TruncateBefore: %+v, want versions 2 and 3", again)
	}
	before := s.Stats().Events
	retry, err := s.Append(bg, "a", NoStream, evID(1, "a"), evID(2, "b"))
	if err != nil || retry != again || s.Stats().Events != before {
		t.Fatalf("retry: %+v, %v (first %+v), %d events written", retry, err, again, s.Stats().Events-before)
	}
	// Other IDs: a new append, hidden like the others.
	if res := appendT(t, s, "a", NoStream, evID(3, "c")); res.FirstVersion != 4 {
		t.Fatalf("append with new IDs: %+v", res)
	}
	if v, err := s.StreamVersion("a"); err != nil || v != NoStream {
		t.Fatalf("StreamVersion: %d, %v", v, err)
	}
}

// TestInvalidStreamReads: bad start versions and directions are errors a
// caller can tell by errors.Is; an unknown Direction read Forward before.
func TestInvalidStreamReads(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer closeT(t, s)
	appendT(t, s, "a", NoStream, ev("a0"))
	for _, c := range []struct {
		from int64
		dir  Direction
	}{{-5, Forward}, {End, Forward}, {-2, Backward}, {0, Direction(7)}, {0, Direction(-1)}} {
		_, err := collectErr(s.ReadStream("a", c.from, c.dir))
		if !errors.Is(err, ErrInvalidRead) {
			t.Errorf("ReadStream from %d, direction %d: %v, want ErrInvalidRead", c.from, int(c.dir), err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	_, err := collectErr(s.SubscribeStream(ctx, "a", -1))
	wantErrIs(t, err, ErrInvalidRead)
}
