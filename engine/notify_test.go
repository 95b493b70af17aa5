package engine

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestCommitWaitersMissNoWakeUp moves the committed position one step at a
// time, each only after every waiter saw the one before: so each step is
// the last a waiter could miss, and a waiter that blocks after missing it
// never wakes. The race window is short; run with -count to search longer.
func TestCommitWaitersMissNoWakeUp(t *testing.T) {
	s := &Store{stop: make(chan struct{})}
	const waiters, steps = 4, 20000
	seen := make(chan uint64, waiters)
	var wg sync.WaitGroup
	for range waiters {
		w, stop := s.watchCommits(bg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer stop()
			for pos := uint64(0); pos < steps; {
				c, err := s.awaitCommit(bg, w, pos)
				if err != nil {
					t.Error(err)
					return
				}
				pos = c
				seen <- c
			}
		}()
	}
	for i := uint64(1); i <= steps; i++ {
		s.publishCommitted(i, "")
		for range waiters {
			select {
			case c := <-seen:
				if c != i {
					t.Fatalf("a waiter saw position %d after step %d", c, i)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("step %d: a waiter missed its wake-up", i)
			}
		}
	}
	wg.Wait()
	if len(s.commits.log.load()) != 0 {
		t.Fatal("waiters still registered after their subscriptions ended")
	}
}

// TestStreamWaitersWokenByTheirStreamOnly checks the routing of wake-ups:
// a stream subscriber that waits gets no token from commits of other
// streams, and one from a commit of its own, in every durability mode.
// A log subscriber's token tells when a commit's wake-ups are done.
func TestStreamWaitersWokenByTheirStreamOnly(t *testing.T) {
	for _, d := range []Durability{SyncEachCommit, SyncInterval, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			s := openT(t, t.TempDir(), &Options{Durability: d, SyncInterval: time.Millisecond})
			defer closeT(t, s)
			mine, stopMine := s.watchStream(bg, "mine")
			defer stopMine()
			log, stopLog := s.watchCommits(bg)
			defer stopLog()
			// Both block after their checks from here on (the flags are
			// what wakers look at).
			mine.waiting.Store(true)
			log.waiting.Store(true)
			woken := func(w *commitWaiter) bool {
				select {
				case <-w.wake:
					return true
				case <-time.After(5 * time.Second):
					return false
				}
			}
			for i := range 20 {
				appendT(t, s, fmt.Sprintf("other-%d", i%3), Any, ev("noise"))
				if !woken(log) {
					t.Fatalf("append %d to another stream: the log subscriber was not woken", i)
				}
				if len(mine.wake) != 0 {
					t.Fatalf("append %d to another stream woke the subscriber of \"mine\"", i)
				}
			}
			appendT(t, s, "mine", NoStream, ev("mine"))
			if !woken(mine) {
				t.Fatal("an append to \"mine\" did not wake its subscriber")
			}
			if err := s.DeleteStream(bg, "mine", Any); err != nil {
				t.Fatal(err)
			}
			if !woken(mine) {
				t.Fatal("deleting \"mine\" did not wake its subscriber")
			}
		})
	}
}

// TestStreamWaitersRegistration registers and unregisters subscribers of
// a few streams in any order: a stream's list goes when its last
// subscriber does, and the others still get their wake-ups.
func TestStreamWaitersRegistration(t *testing.T) {
	var n commitNotifier
	a1, a2, b := n.registerStream("a"), n.registerStream("a"), n.registerStream("b")
	for _, w := range []*commitWaiter{a1, a2, b} {
		w.waiting.Store(true)
	}
	n.unregisterStream("a", a1)
	n.notifyStream("a")
	if len(a1.wake) != 0 || len(a2.wake) != 1 || len(b.wake) != 0 {
		t.Fatalf("after notifying a: tokens a1 %d a2 %d b %d, want 0 1 0", len(a1.wake), len(a2.wake), len(b.wake))
	}
	n.unregisterStream("a", a2)
	if _, ok := n.streams.Load("a"); ok {
		t.Fatal("stream a still has a list after its last subscriber left")
	}
	n.notifyFailure()
	if len(b.wake) != 1 {
		t.Fatal("a failure did not wake the subscriber of b")
	}
	n.unregisterStream("b", b)
	if got := n.streamWaiters.Load(); got != 0 {
		t.Fatalf("%d stream waiters counted after all left", got)
	}
}

// TestStreamWaitersConcurrentRegistration registers and unregisters
// subscribers of a stream while wakers read its list: no waker may fail
// on a list being made or dropped (run with -race too).
func TestStreamWaitersConcurrentRegistration(t *testing.T) {
	var n commitNotifier
	other := n.registerStream("b") // so that wakers look the stream up
	defer n.unregisterStream("b", other)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, wake := range []func(){func() { n.notifyStream("a") }, n.notifyFailure, n.notifyAll} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					wake()
				}
			}
		}()
	}
	for range 20000 {
		w := n.registerStream("a")
		w.waiting.Store(true)
		n.unregisterStream("a", w)
	}
	close(stop)
	wg.Wait()
}
