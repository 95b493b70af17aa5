package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"
)

// subscribeN collects n events of seq (cloned), or fails after a timeout.
func subscribeN(t *testing.T, ctx context.Context, cancel context.CancelFunc, seq func(func(RecordedEvent, error) bool), n int) ([]RecordedEvent, error) {
	t.Helper()
	timer := time.AfterFunc(30*time.Second, cancel) // a hang fails, not blocks
	defer timer.Stop()
	var got []RecordedEvent
	for e, err := range seq {
		if err != nil {
			return got, err
		}
		got = append(got, e.Clone())
		if len(got) == n {
			break
		}
	}
	return got, nil
}

// writeConcurrently appends perWriter events from each of writers
// goroutines to streams "w<i>-<k%3>" while the test reads.
func writeConcurrently(t *testing.T, s *Store, writers, perWriter int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				typ := []string{"created", "updated", "deleted"}[i%3]
				if _, err := s.Append(bg, fmt.Sprintf("w%d-%d", w, i%3), Any, Event{Type: typ, Data: []byte(fmt.Sprint(w, i))}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	return &wg
}

func TestSubscribeCatchUpThenLive(t *testing.T) {
	for _, d := range []Durability{SyncEachCommit, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			s := openT(t, t.TempDir(), &Options{Durability: d, SegmentSize: 256 << 10})
			defer closeT(t, s)
			for i := range 300 {
				appendT(t, s, fmt.Sprintf("pre-%d", i%7), Any, ev(fmt.Sprint(i)))
			}
			const writers, per = 4, 200
			total := 300 + writers*per
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			subs := make([][]RecordedEvent, 8) // many subscribers, one answer
			var rg sync.WaitGroup
			for k := range subs {
				rg.Add(1)
				go func() {
					defer rg.Done()
					got, err := subscribeN(t, ctx, cancel, s.Subscribe(ctx, 0, nil), total)
					if err != nil {
						t.Errorf("subscriber %d: %v after %d events", k, err, len(got))
					}
					subs[k] = got
				}()
			}
			writeConcurrently(t, s, writers, per).Wait()
			rg.Wait()
			want := collect(t, s.ReadAll(0))
			if len(want) != total {
				t.Fatalf("log has %d events, want %d", len(want), total)
			}
			for k, got := range subs {
				if len(got) != total {
					t.Fatalf("subscriber %d got %d events, want %d", k, len(got), total)
				}
				for i := range want {
					if err := sameEvent(got[i], want[i]); err != nil {
						t.Fatalf("subscriber %d, event %d: %v", k, i, err)
					}
					if i > 0 && got[i].Position != got[i-1].Next {
						t.Fatalf("subscriber %d: event %d at %d, previous ends at %d", k, i, got[i].Position, got[i-1].Next)
					}
				}
			}
		})
	}
}

func TestSubscribeResumeAndPositions(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer closeT(t, s)
	for i := range 50 {
		appendT(t, s, "s", int64(i)-1, ev(fmt.Sprint(i)))
	}
	all := collect(t, s.ReadAll(0))
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	first, err := subscribeN(t, ctx, cancel, s.Subscribe(ctx, 0, nil), 20)
	if err != nil || len(first) != 20 {
		t.Fatalf("%d events, %v", len(first), err)
	}
	// Resume from the checkpoint: the rest, exactly.
	rest, err := subscribeN(t, ctx, cancel, s.Subscribe(ctx, first[19].Next, nil), 30)
	if err != nil || len(rest) != 30 || rest[0].Version != 20 || rest[29].Position != all[49].Position {
		t.Fatalf("resume: %d events, %v", len(rest), err)
	}
	// From the end: nothing until the next commit, which arrives.
	end := all[49].Next
	go func() {
		time.Sleep(20 * time.Millisecond)
		appendT(t, s, "s", 49, ev("late"))
	}()
	late, err := subscribeN(t, ctx, cancel, s.Subscribe(ctx, end, nil), 1)
	if err != nil || len(late) != 1 || late[0].Version != 50 {
		t.Fatalf("from the end: %v, %v", late, err)
	}
	// Past the end, and not at a record start.
	for _, from := range []uint64{late[0].Next + 8, all[3].Position + 8} {
		_, err := collectErr(s.Subscribe(ctx, from, nil))
		wantErrIs(t, err, ErrInvalidPosition)
	}
}

// subscriptionKinds starts either kind of subscription from the start, the
// stream one on stream "s".
var subscriptionKinds = map[string]func(s *Store, ctx context.Context) iter.Seq2[RecordedEvent, error]{
	"Subscribe": func(s *Store, ctx context.Context) iter.Seq2[RecordedEvent, error] { return s.Subscribe(ctx, 0, nil) },
	"SubscribeStream": func(s *Store, ctx context.Context) iter.Seq2[RecordedEvent, error] {
		return s.SubscribeStream(ctx, "s", 0)
	},
}

// TestSubscribeEnds: a subscriber waiting for the next commit ends when its
// context is cancelled and when the store closes, whichever kind it is.
// Waiting watches neither ctx nor Close directly (see awaitCommit): both
// wake the commit waiters.
func TestSubscribeEnds(t *testing.T) {
	for name, sub := range subscriptionKinds {
		t.Run(name, func(t *testing.T) {
			s := openT(t, t.TempDir(), nil)
			appendT(t, s, "s", NoStream, ev("x"))
			ctx, cancel := context.WithCancel(bg)
			ended := make(chan error, 2)
			for _, c := range []context.Context{ctx, bg} {
				go func() {
					_, err := collectErr(sub(s, c))
					ended <- err
				}()
			}
			wait := func(what string) error {
				select {
				case err := <-ended:
					return err
				case <-time.After(10 * time.Second):
					t.Fatalf("subscriber did not end when %s", what)
					return nil
				}
			}
			waitBlocked(t, s, 2)
			cancel()
			wantErrIs(t, wait("its context was cancelled"), context.Canceled)
			waitBlocked(t, s, 1)
			closeT(t, s)
			wantErrIs(t, wait("the store closed"), ErrClosed)
		})
	}
}

// TestSubscribeEndsOnFailure: a subscriber waiting for the next commit ends
// with the store's failure.
func TestSubscribeEndsOnFailure(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	appendT(t, s, "s", NoStream, ev("x"))
	ended := make(chan error, 1)
	go func() {
		_, err := collectErr(s.Subscribe(bg, 0, nil))
		ended <- err
	}()
	waitBlocked(t, s, 1)
	_ = s.fail(errors.New("injected"))
	select {
	case err := <-ended:
		wantErrIs(t, err, ErrFailed)
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber did not end when the store failed")
	}
	_ = s.Close()
}

// waitBlocked waits until n subscribers are registered and about to block
// for the next commit, and a little longer, so that what ends them reaches
// them through a wake-up rather than through a check before they block.
func waitBlocked(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		waiting := 0
		count := func(list []*commitWaiter) {
			for _, w := range list {
				if w.waiting.Load() {
					waiting++
				}
			}
		}
		count(s.commits.log.load())
		s.commits.eachStreamList(count) // SubscribeStream's
		if waiting == n {
			time.Sleep(20 * time.Millisecond)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers waiting for a commit, want %d", waiting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFilteredReads(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{Durability: NoSync, SegmentSize: 128 << 10})
	defer closeT(t, s)
	writeConcurrently(t, s, 3, 300).Wait()
	all := collect(t, s.ReadAll(0))
	filters := map[string]*Filter{
		"prefix":  {StreamPrefix: "w1-"},
		"types":   {Types: []string{"created", "deleted"}},
		"match":   {Match: func(h *EventHeader) bool { return h.Version%5 == 0 }},
		"all of":  {StreamPrefix: "w2", Types: []string{"updated"}, Match: func(h *EventHeader) bool { return h.Version > 10 }},
		"nothing": {StreamPrefix: "zzz"},
	}
	for name, f := range filters {
		var want []RecordedEvent
		for _, e := range all {
			h := EventHeader{Stream: []byte(e.Stream), Type: []byte(e.Type), Version: e.Version, Position: e.Position}
			if strings.HasPrefix(e.Stream, f.StreamPrefix) && (f.Types == nil || contains(f.Types, e.Type)) && (f.Match == nil || f.Match(&h)) {
				want = append(want, e)
			}
		}
		got := collect(t, s.ReadAllFiltered(0, f))
		if len(got) != len(want) {
			t.Fatalf("%s: %d events, want %d", name, len(got), len(want))
		}
		for i := range want {
			if err := sameEvent(got[i], want[i]); err != nil {
				t.Fatalf("%s, event %d: %v", name, i, err)
			}
		}
		if len(want) > 0 {
			ctx, cancel := context.WithCancel(bg)
			sub, err := subscribeN(t, ctx, cancel, s.Subscribe(ctx, 0, &SubscribeOptions{Filter: f}), len(want))
			cancel()
			if err != nil || len(sub) != len(want) || sub[len(sub)-1].Position != want[len(want)-1].Position {
				t.Fatalf("%s: filtered subscription got %d events (%v), want %d", name, len(sub), err, len(want))
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSubscribeStream(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer closeT(t, s)
	for i := range 10 {
		appendT(t, s, "mine", int64(i)-1, ev(fmt.Sprint(i)))
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 10; i < 60; i++ {
			appendT(t, s, "other", Any, ev("noise"))
			appendT(t, s, "mine", int64(i)-1, ev(fmt.Sprint(i)))
		}
	}()
	got, err := subscribeN(t, ctx, cancel, s.SubscribeStream(ctx, "mine", 5), 55)
	wg.Wait()
	if err != nil || len(got) != 55 {
		t.Fatalf("%d events, %v", len(got), err)
	}
	for i, e := range got {
		if e.Stream != "mine" || e.Version != int64(i)+5 || string(e.Data) != fmt.Sprint(i+5) {
			t.Fatalf("event %d: %s/%d %q", i, e.Stream, e.Version, e.Data)
		}
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal("cancelled before the end")
	}
}

// TestSubscriberFollowsAcrossEarlyRoll: a live subscriber caught up in a
// segment that ends early (the next batch did not fit) must continue in the
// next segment, which starts before the old one's space ends.
func TestSubscriberFollowsAcrossEarlyRoll(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{SegmentSize: 64 << 10})
	defer closeT(t, s)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	appendT(t, s, "a", NoStream, ev(strings.Repeat("x", 40<<10)))
	got := make(chan error, 1)
	seen := make(chan struct{}, 4)
	go func() {
		n := 0
		for _, err := range s.Subscribe(ctx, 0, nil) {
			if err != nil {
				got <- err
				return
			}
			seen <- struct{}{}
			if n++; n == 2 {
				got <- nil
				return
			}
		}
	}()
	<-seen // caught up, live in segment 0
	// 40 KiB more does not fit in the 64 KiB segment: a roll, and the
	// new segment starts where segment 0's data ends, well before its limit.
	appendT(t, s, "a", 0, ev(strings.Repeat("y", 40<<10)))
	if err := <-got; err != nil {
		t.Fatalf("subscriber after an early roll: %v", err)
	}
}

// TestSubscribeEndsWithBacklog: a subscriber behind the log ends when its
// context ends, not once it has caught up (which a subscriber slower than
// the writers never does): it hands out at most the rest of the chunk it
// is in. With a context ended already it hands out nothing.
func TestSubscribeEndsWithBacklog(t *testing.T) {
	for name, sub := range subscriptionKinds {
		t.Run(name, func(t *testing.T) {
			s := openT(t, t.TempDir(), &Options{Durability: NoSync})
			defer closeT(t, s)
			for i := range 10 * readChunk {
				appendT(t, s, "s", int64(i)-1, ev(fmt.Sprint(i)))
			}
			ctx, cancel := context.WithCancel(bg)
			cancel()
			got, err := collectErr(sub(s, ctx))
			if len(got) != 0 || !errors.Is(err, context.Canceled) {
				t.Fatalf("with an ended context: %d events, then %v", len(got), err)
			}

			ctx, cancel = context.WithCancel(bg)
			defer cancel()
			n := 0
			for _, err = range sub(s, ctx) {
				if err != nil {
					break
				}
				if n++; n == 1 {
					cancel()
				}
			}
			if n > readChunk || !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled after the first event: %d events, then %v", n, err)
			}
		})
	}
}

// TestLogReadDecodesWithoutMetadataLock: a log reader takes the metadata
// table's read lock only to apply retention to a decoded chunk, not while
// it decodes (which may fault pages in from the disk): appends to streams
// with metadata need the write lock, in NoSync mode holding the writer's.
func TestLogReadDecodesWithoutMetadataLock(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{Durability: NoSync})
	defer closeT(t, s)
	if err := s.SetStreamMetadata(bg, "kept", StreamMetadata{MaxCount: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 * readChunk {
		appendT(t, s, []string{"kept", "other"}[i%2], Any, ev(fmt.Sprint(i)))
	}
	decoded, held := 0, 0
	testHookDecoded = func() {
		decoded++
		if !s.meta.mu.TryLock() {
			held++
			return
		}
		s.meta.mu.Unlock()
	}
	defer func() { testHookDecoded = nil }()
	got, err := collectErr(s.ReadAll(0))
	if err != nil {
		t.Fatal(err)
	}
	if held > 0 || decoded < 3*readChunk {
		t.Fatalf("the metadata lock was held for %d of %d records decoded", held, decoded)
	}
	// Retention still applies: all of "other", the last 2 of "kept".
	if len(got) != 3*readChunk/2+2 {
		t.Fatalf("%d events read, want %d", len(got), 3*readChunk/2+2)
	}
}
