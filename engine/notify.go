package engine

import (
	"slices"
	"sync"
	"sync/atomic"
)

// commitNotifier wakes subscribers when the committed position moves (or
// the store closes or fails, or a subscriber's context ends).
//
// Each subscriber registers a wake channel of its own with room for one
// token, for as long as it runs. notify drops a token into every channel
// that has none; a subscriber checks the committed position and, when it
// has not moved, takes a token (blocking until there is one) and checks
// again. A token left over from an earlier notify costs one needless
// check, never a lost wake-up: a notify that finds the channel full comes
// after the token the subscriber has yet to take.
//
// Why not one channel that notify closes: every waiter then locked that
// one channel to wait, and all of them were woken together, each taking
// the lock again. With a hundred subscribers that contention cost more CPU
// than their reads and took a third of the durable append rate (S2 in
// spool bench). A token send to a full channel and a receive from a
// channel nobody else uses take no contended lock. Appends pay one atomic
// load while nobody subscribes.
type commitNotifier struct {
	mu   sync.Mutex                      // serialises register and unregister
	subs atomic.Pointer[[]chan struct{}] // copy on write
}

// register returns a new wake channel that every notify until unregister
// drops a token into.
func (n *commitNotifier) register() chan struct{} {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	var list []chan struct{}
	if p := n.subs.Load(); p != nil {
		list = slices.Clone(*p)
	}
	list = append(list, ch)
	n.subs.Store(&list)
	return ch
}

// unregister stops notifying ch.
func (n *commitNotifier) unregister(ch chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.subs.Load()
	if p == nil {
		return
	}
	list := slices.DeleteFunc(slices.Clone(*p), func(c chan struct{}) bool { return c == ch })
	n.subs.Store(&list)
}

// notify wakes every registered subscriber.
func (n *commitNotifier) notify() {
	p := n.subs.Load()
	if p == nil {
		return
	}
	for _, ch := range *p {
		select {
		case ch <- struct{}{}:
		default: // a token is waiting already
		}
	}
}

// publishCommitted moves the committed position to pos and wakes
// subscribers.
func (s *Store) publishCommitted(pos uint64) {
	s.committed.Store(pos)
	s.commits.notify()
}
