package engine

import (
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// commitNotifier wakes subscribers when the committed position moves (or
// the store closes or fails).
//
// Each subscriber registers a commitWaiter of its own for as long as it
// runs: a flag saying it is about to block, and a wake channel with room
// for one token. A subscriber sets its flag, then checks the committed
// position (and whether the store is usable), and only when nothing moved
// takes a token, blocking until there is one. notify, after the position
// moved, drops a token into the channel of every subscriber whose flag is
// set. Flag and position are sequentially consistent atomics, so either
// the subscriber sees the new position or notify sees the flag: no lost
// wake-up. A token left over costs one needless check. Close pokes every
// subscriber (notifyAll: closing its stop channel is not ordered with the
// flags), and a subscriber's ended context pokes it alone.
//
// Why not one channel that notify closes: every waiter then locked that
// one channel to wait, all were woken together and locked it again, and
// with a select on the store's stop channel and the context three shared
// channels were locked each time. With a hundred subscribers that
// contention cost more CPU than their reads and took a third of the
// durable append rate (S2 in spool bench). Now a waiter locks only its own
// channel, and notify skips subscribers that are busy reading with one
// load each. Without subscribers, notify costs one atomic load.
type commitNotifier struct {
	mu      sync.Mutex                      // serialises register and unregister
	waiters atomic.Pointer[[]*commitWaiter] // copy on write
}

// commitWaiter is one subscriber's registration with the notifier.
type commitWaiter struct {
	waiting atomic.Bool   // set before the last check preceding a block
	wake    chan struct{} // capacity 1: a token means "check again"
	// Each subscriber writes its flag at every wait: the pad keeps the
	// waiters' flags off each other's cache lines.
	_ cpu.CacheLinePad
}

// poke leaves a token unless one is waiting already.
func (w *commitWaiter) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// register returns a new waiter that notify wakes until unregister.
func (n *commitNotifier) register() *commitWaiter {
	w := &commitWaiter{wake: make(chan struct{}, 1)}
	n.mu.Lock()
	defer n.mu.Unlock()
	var list []*commitWaiter
	if p := n.waiters.Load(); p != nil {
		list = slices.Clone(*p)
	}
	list = append(list, w)
	n.waiters.Store(&list)
	return w
}

// unregister stops notifying w.
func (n *commitNotifier) unregister(w *commitWaiter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.waiters.Load()
	if p == nil {
		return
	}
	list := slices.DeleteFunc(slices.Clone(*p), func(x *commitWaiter) bool { return x == w })
	if len(list) == 0 {
		n.waiters.Store(nil) // notify: one load again
		return
	}
	n.waiters.Store(&list)
}

// notify wakes every registered subscriber that is waiting or about to.
// The caller has made the change the subscribers check for first.
func (n *commitNotifier) notify() {
	p := n.waiters.Load()
	if p == nil {
		return
	}
	for _, w := range *p {
		if w.waiting.Load() {
			w.poke()
		}
	}
}

// notifyAll wakes every registered subscriber, waiting or not, for a
// change that is not ordered with their flags: the close of the store's
// stop channel. The token stays until the subscriber next blocks.
func (n *commitNotifier) notifyAll() {
	if p := n.waiters.Load(); p != nil {
		for _, w := range *p {
			w.poke()
		}
	}
}

// publishCommitted moves the committed position to pos and wakes
// subscribers.
func (s *Store) publishCommitted(pos uint64) {
	s.committed.Store(pos)
	s.commits.notify()
}
