package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/spooldb/spool/mmapfile"
	"testing"
)

var bg = context.Background()

func openT(t testing.TB, dir string, o *Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func closeT(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func appendT(t testing.TB, s *Store, stream string, expected int64, events ...Event) AppendResult {
	t.Helper()
	res, err := s.Append(bg, stream, expected, events...)
	if err != nil {
		t.Fatalf("Append(%q, %d): %v", stream, expected, err)
	}
	return res
}

func ev(data string) Event { return Event{Type: "test", Data: []byte(data)} }

func evID(id byte, data string) Event {
	e := ev(data)
	e.ID[0], e.ID[15] = id, 0xAA
	return e
}

// collect reads an iterator to the end, copying the events.
func collect(t testing.TB, seq func(func(RecordedEvent, error) bool)) []RecordedEvent {
	t.Helper()
	var out []RecordedEvent
	for e, err := range seq {
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, e.Clone())
	}
	return out
}

// collectErr reads an iterator and returns its first error.
func collectErr(seq func(func(RecordedEvent, error) bool)) ([]RecordedEvent, error) {
	var out []RecordedEvent
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, e.Clone())
	}
	return out, nil
}

func wantErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one that is %v", err, target)
	}
}

func sameEvent(a, b RecordedEvent) error {
	switch {
	case a.Stream != b.Stream, a.Version != b.Version, a.Position != b.Position, a.ID != b.ID,
		a.Type != b.Type, !bytes.Equal(a.Data, b.Data), !bytes.Equal(a.Metadata, b.Metadata):
		return fmt.Errorf("got %s/%d@%d %q %q, want %s/%d@%d %q %q",
			a.Stream, a.Version, a.Position, a.Type, a.Data, b.Stream, b.Version, b.Position, b.Type, b.Data)
	}
	return nil
}

// wrapFS is storage whose files pass through wrap when created or opened:
// the base of the test spies that intercept file calls.
type wrapFS struct {
	mmapfile.FS
	wrap func(mmapfile.File) mmapfile.File
}

func (w *wrapFS) Create(name string, size int64) (mmapfile.File, error) {
	f, err := w.FS.Create(name, size)
	if err != nil {
		return nil, err
	}
	return w.wrap(f), nil
}

func (w *wrapFS) Open(name string) (mmapfile.File, error) {
	f, err := w.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return w.wrap(f), nil
}

// useClock makes the store's clock (record stamps, MaxAge) read *clock
// until the test ends.
func useClock(t testing.TB, clock *int64) {
	restore := stampClock
	stampClock = func() int64 { return *clock }
	t.Cleanup(func() { stampClock = restore })
}
