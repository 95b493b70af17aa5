package engine

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestSystemRecordsRaceAppends writes a system record to a stream while
// another goroutine appends to it, in durable mode where appends wait in
// groups: the head the applier takes off the pending table must be the one
// it applied, or a system record written after an event still in flight is
// forgotten (its retention unenforced, a tombstoned stream accepting
// appends). Checked live and after each kind of reopening.
func TestSystemRecordsRaceAppends(t *testing.T) {
	const rounds, events = 20, 100
	dir := t.TempDir()
	s := openT(t, dir, nil)
	type outcome struct {
		stream    string
		tombstone bool
		acked     int64 // last acknowledged version
	}
	var outcomes []outcome
	for r := range rounds {
		o := outcome{stream: fmt.Sprintf("race-%d", r), tombstone: r%2 == 1, acked: -1}
		var wg sync.WaitGroup
		started := make(chan struct{})
		var appendErr error
		wg.Go(func() {
			for i := range events {
				if i == 3 {
					close(started)
				}
				res, err := s.Append(bg, o.stream, Any, ev("e"))
				if err != nil {
					if !o.tombstone || !errors.Is(err, ErrStreamDeleted) {
						appendErr = err
					}
					return
				}
				o.acked = res.LastVersion
			}
		})
		<-started
		var err error
		if o.tombstone {
			err = s.TombstoneStream(bg, o.stream, Any)
		} else {
			err = s.SetStreamMetadata(bg, o.stream, StreamMetadata{MaxCount: 1})
		}
		if err != nil {
			t.Fatal(err)
		}
		if o.tombstone {
			// Every append after the tombstone was acknowledged must fail.
			if _, err := s.Append(bg, o.stream, Any, ev("late")); !errors.Is(err, ErrStreamDeleted) {
				t.Fatalf("%s: append after tombstone: %v", o.stream, err)
			}
		}
		wg.Wait()
		if appendErr != nil {
			t.Fatal(appendErr)
		}
		outcomes = append(outcomes, o)
	}
	// Metadata on a stream without events leaves no pending head behind
	// once it is applied (the table would grow with every such stream).
	if err := s.SetStreamMetadata(bg, "no-events", StreamMetadata{MaxCount: 3}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	leftover := len(s.pending)
	s.mu.Unlock()
	if leftover != 0 {
		t.Fatalf("%d heads left pending after every write was applied", leftover)
	}
	s = reopenings(t, dir, nil, s, func(t *testing.T, s *Store, how string) {
		for _, o := range outcomes {
			got, err := collectErr(s.ReadStream(o.stream, 0, Forward))
			if o.tombstone {
				if !errors.Is(err, ErrStreamDeleted) {
					t.Fatalf("%s: %s: read of tombstoned stream: %v", how, o.stream, err)
				}
				if _, err := s.Append(bg, o.stream, Any, ev("x")); !errors.Is(err, ErrStreamDeleted) {
					t.Fatalf("%s: %s: append to tombstoned stream: %v", how, o.stream, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", how, o.stream, err)
			}
			wantVersions(t, how+": "+o.stream+" with MaxCount 1", got, o.acked)
			if md, err := s.StreamMetadata(o.stream); err != nil || md.MaxCount != 1 {
				t.Fatalf("%s: %s: metadata %+v, %v", how, o.stream, md, err)
			}
		}
	})
	closeT(t, s)
	verifyClean(t, dir)
}

// TestFilterMatchHoldsNoLockWritersNeed: a log read's Match predicate is
// the caller's code and may take its time; appends to streams with
// retention (whose metadata the committer updates) must go on meanwhile.
func TestFilterMatchHoldsNoLockWritersNeed(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer func() { _ = s.Close() }()
	if err := s.SetStreamMetadata(bg, "kept", StreamMetadata{MaxCount: 10}); err != nil {
		t.Fatal(err)
	}
	appendT(t, s, "kept", Any, ev("0"))
	appendT(t, s, "other", Any, ev("0"))
	appended := make(chan error, 1)
	match := func(h *EventHeader) bool {
		if string(h.Stream) != "other" {
			return true
		}
		// Append to the stream with retention while this call runs, and
		// wait for it.
		go func() {
			_, err := s.Append(bg, "kept", Any, ev("during Match"))
			appended <- err
		}()
		select {
		case err := <-appended:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("an append to a stream with retention waited for a Filter's Match to return")
		}
		return true
	}
	if got := collect(t, s.ReadAllFiltered(0, &Filter{Match: match})); len(got) != 2 {
		t.Fatalf("filtered read: %d events", len(got))
	}
	if t.Failed() {
		<-appended
	}
}
