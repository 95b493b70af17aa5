package engine

import (
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
		s.publishCommitted(i)
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
	if p := s.commits.waiters.Load(); p != nil && len(*p) != 0 {
		t.Fatal("waiters still registered after their subscriptions ended")
	}
}
