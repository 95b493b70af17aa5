package engine

import (
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// commitNotifier wakes subscribers when the committed position moves (or
// the store closes or fails): log subscribers at every move, stream
// subscribers at the moves that cover a change of their stream.
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
// A stream subscriber (SubscribeStream) registers for its stream alone:
// it is woken by the commits that change that stream, not by every commit
// of the store, so that many stream subscribers cost the committer one
// map lookup per changed stream rather than a poke each per commit.
// Failures wake every waiting subscriber of both kinds. The same argument
// holds if two orders are kept: the index is updated before the committed
// position moves, and a stream subscriber is registered (its list
// published, streamWaiters counted) before it reads the position it waits
// to pass.
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
	mu      sync.Mutex                      // serialises register and unregister (of both kinds)
	waiters atomic.Pointer[[]*commitWaiter] // log subscribers; copy on write
	// streams maps a stream ID to the *waiterList of its stream
	// subscribers; streamWaiters counts them, so that commits cost one
	// load while there are none.
	streams       sync.Map
	streamWaiters atomic.Int64
}

// waiterList is one stream's subscribers, copy on write under
// commitNotifier.mu.
type waiterList struct {
	p atomic.Pointer[[]*commitWaiter]
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

// registerStream returns a new waiter that notifyStream(stream) wakes
// until unregisterStream.
func (n *commitNotifier) registerStream(stream string) *commitWaiter {
	w := &commitWaiter{wake: make(chan struct{}, 1)}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Wakers read the lists without mu: a list is published complete.
	if v, ok := n.streams.Load(stream); ok {
		l := v.(*waiterList)
		list := append(slices.Clone(*l.p.Load()), w)
		l.p.Store(&list)
	} else {
		l := new(waiterList)
		l.p.Store(&[]*commitWaiter{w})
		n.streams.Store(stream, l)
	}
	n.streamWaiters.Add(1)
	return w
}

// unregisterStream stops notifying w, registered for stream.
func (n *commitNotifier) unregisterStream(stream string, w *commitWaiter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.streams.Load(stream)
	if !ok {
		return
	}
	l := v.(*waiterList)
	list := slices.DeleteFunc(slices.Clone(*l.p.Load()), func(x *commitWaiter) bool { return x == w })
	n.streamWaiters.Add(-1)
	if len(list) == 0 {
		n.streams.Delete(stream) // register, under mu too, makes a new list
		return
	}
	l.p.Store(&list)
}

// notify wakes every log subscriber that is waiting or about to. The
// caller has moved the committed position first.
func (n *commitNotifier) notify() {
	if p := n.waiters.Load(); p != nil {
		wakeWaiting(*p)
	}
}

// notifyStream wakes every subscriber of stream that is waiting or about
// to. The caller has stored the committed position covering a change of
// stream first.
func (n *commitNotifier) notifyStream(stream string) {
	if n.streamWaiters.Load() == 0 {
		return
	}
	if v, ok := n.streams.Load(stream); ok {
		wakeWaiting(*v.(*waiterList).p.Load())
	}
}

// notifyFailure wakes every subscriber that is waiting or about to, of
// the log and of streams alike. The caller has failed the store first.
func (n *commitNotifier) notifyFailure() {
	n.notify()
	n.eachStreamList(wakeWaiting)
}

// eachStreamList calls fn with each stream's list of subscribers.
func (n *commitNotifier) eachStreamList(fn func([]*commitWaiter)) {
	n.streams.Range(func(_, v any) bool {
		fn(*v.(*waiterList).p.Load())
		return true
	})
}

func wakeWaiting(list []*commitWaiter) {
	for _, w := range list {
		if w.waiting.Load() {
			w.poke()
		}
	}
}

func pokeAll(list []*commitWaiter) {
	for _, w := range list {
		w.poke()
	}
}

// notifyAll wakes every registered subscriber, waiting or not, for a
// change that is not ordered with their flags: the close of the store's
// stop channel. The token stays until the subscriber next blocks.
func (n *commitNotifier) notifyAll() {
	if p := n.waiters.Load(); p != nil {
		pokeAll(*p)
	}
	n.eachStreamList(pokeAll)
}

// publishCommitted moves the committed position to pos, where a change
// of stream ends, and wakes the subscribers of the log and of stream.
func (s *Store) publishCommitted(pos uint64, stream string) {
	s.committed.Store(pos)
	s.commits.notify()
	s.commits.notifyStream(stream)
}
