package engine

import (
	"sync"
	"sync/atomic"
)

// commitNotifier wakes subscribers when the committed position moves (or
// the store closes or fails). Waiting is "arm, re-check, block": a
// subscriber takes the channel, checks the committed position again, and
// only then blocks on the channel, so no advance can slip between its check
// and its wait. Appends pay one atomic load while nobody waits.
type commitNotifier struct {
	armed atomic.Bool
	mu    sync.Mutex
	ch    chan struct{}
}

// wait returns a channel that is closed at the next notify.
func (n *commitNotifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	n.armed.Store(true)
	return n.ch
}

// notify wakes every waiter.
func (n *commitNotifier) notify() {
	if !n.armed.Load() {
		return
	}
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.armed.Store(false)
	n.mu.Unlock()
}

// publishCommitted moves the committed position to pos and wakes
// subscribers.
func (s *Store) publishCommitted(pos uint64) {
	s.committed.Store(pos)
	s.commits.notify()
}
