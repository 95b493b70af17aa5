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
	mu  sync.Mutex // serialises registering and unregistering, of both kinds
	log waiterList // the log's subscribers (Subscribe)
	// streams maps a stream ID to the *waiterList of its subscribers
	// (SubscribeStream); streamWaiters counts them, so that commits cost
	// one load while there are none.
	streams       sync.Map
	streamWaiters atomic.Int64
}

// waiterList is a list of subscribers that wakers read without the
// notifier's mutex: it is copied on write under the mutex, and published
// complete.
type waiterList struct {
	p atomic.Pointer[[]*commitWaiter] // nil when empty
}

func (l *waiterList) load() []*commitWaiter {
	if p := l.p.Load(); p != nil {
		return *p
	}
	return nil
}

// add appends w. Called with the notifier's mutex held.
func (l *waiterList) add(w *commitWaiter) {
	list := append(slices.Clone(l.load()), w)
	l.p.Store(&list)
}

// remove takes w out and reports whether the list is empty now. Called
// with the notifier's mutex held.
func (l *waiterList) remove(w *commitWaiter) (empty bool) {
	list := slices.DeleteFunc(slices.Clone(l.load()), func(x *commitWaiter) bool { return x == w })
	if len(list) == 0 {
		l.p.Store(nil) // wakers: one load again
		return true
	}
	l.p.Store(&list)
	return false
}

// commitWaiter is one subscriber's registration with the notifier.
type commitWaiter struct {
	waiting atomic.Bool   // set before the last check preceding a block
	wake    chan struct{} // capacity 1: a token means "check again"
	// Each subscriber writes its flag at every wait: the pad keeps the
	// waiters' flags off each other's cache lines.
	_ cpu.CacheLinePad
}

func newCommitWaiter() *commitWaiter { return &commitWaiter{wake: make(chan struct{}, 1)} }

// poke leaves a token unless one is waiting already.
func (w *commitWaiter) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// register returns a new log subscriber's waiter, which notify wakes
// until unregister.
func (n *commitNotifier) register() *commitWaiter {
	w := newCommitWaiter()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log.add(w)
	return w
}

// unregister stops notifying w, a log subscriber's waiter.
func (n *commitNotifier) unregister(w *commitWaiter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log.remove(w)
}

// registerStream returns a new waiter that notifyStream(stream) wakes
// until unregisterStream.
func (n *commitNotifier) registerStream(stream string) *commitWaiter {
	w := newCommitWaiter()
	n.mu.Lock()
	defer n.mu.Unlock()
	v, found := n.streams.Load(stream)
	l, _ := v.(*waiterList)
	if !found {
		l = new(waiterList)
	}
	l.add(w)
	if !found {
		n.streams.Store(stream, l) // published complete: wakers never see it empty
	}
	n.streamWaiters.Add(1)
	return w
}

// unregisterStream stops notifying w, registered for stream. A stream's
// list goes when its last subscriber does.
func (n *commitNotifier) unregisterStream(stream string, w *commitWaiter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if v, ok := n.streams.Load(stream); ok {
		n.streamWaiters.Add(-1)
		if v.(*waiterList).remove(w) {
			n.streams.Delete(stream)
		}
	}
}

// notify wakes every log subscriber that is waiting or about to. The
// caller has moved the committed position first.
func (n *commitNotifier) notify() {
	wakeWaiting(n.log.load())
}

// notifyStream wakes every subscriber of stream that is waiting or about
// to. The caller has stored the committed position covering a change of
// stream first.
func (n *commitNotifier) notifyStream(stream string) {
	if n.streamWaiters.Load() == 0 {
		return
	}
	if v, ok := n.streams.Load(stream); ok {
		wakeWaiting(v.(*waiterList).load())
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
		fn(v.(*waiterList).load())
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
	pokeAll(n.log.load())
	n.eachStreamList(pokeAll)
}

// publishCommitted moves the committed position to pos, where a change
// of stream ends, and wakes the subscribers of the log and of stream.
func (s *Store) publishCommitted(pos uint64, stream string) {
	s.committed.Store(pos)
	s.commits.notify()
	s.commits.notifyStream(stream)
}
