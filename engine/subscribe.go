package engine

import (
	"context"
	"fmt"
	"iter"
)

// SubscribeOptions configure Subscribe. Nil means everything.
type SubscribeOptions struct {
	// Filter selects the events delivered; see Filter.
	Filter *Filter
}

// Subscribe reads the log in commit order from position from (0 for the
// beginning; the Next of the last event handled to resume after it), and
// then follows it live: each event committed later is delivered once, in
// order, with no gap and no duplicate at the switch from catching up to
// following. It ends when ctx ends (yielding ctx.Err()), or when the store
// closes (ErrClosed) or fails. from must be a record start or the log end;
// past the end is ErrInvalidPosition.
//
// A subscriber reads from the mapped log, not from a buffer: a slow one
// holds no memory for its lag and never slows appenders, and it waits for
// commits without polling. It sees an event once the store's durability
// mode has committed it: after its msync in SyncEachCommit mode, as soon as
// it is appended in the others. Data and Metadata alias mapped memory and
// are valid only during the iteration that received them.
func (s *Store) Subscribe(ctx context.Context, from uint64, opts *SubscribeOptions) iter.Seq2[RecordedEvent, error] {
	var f *Filter
	if opts != nil {
		f = opts.Filter
	}
	return func(yield func(RecordedEvent, error) bool) {
		lr := logReader{s: s, view: readView{s: s}, filter: f, meta: metaView{s: s, t: &s.meta}}
		defer lr.view.close()
		waiter, stop := s.watchCommits(ctx)
		defer stop()
		if err := lr.start(from); err != nil {
			yield(RecordedEvent{}, err)
			return
		}
		for lr.drain(ctx, yield) {
			next, err := s.awaitCommit(ctx, waiter, lr.pos)
			if err != nil {
				yield(RecordedEvent{}, err)
				return
			}
			lr.advance(next)
		}
	}
}

// awaitCommit blocks until the committed position passes pos and returns
// it, or until ctx ends or the store closes or fails. w is the caller's
// registration (see commitNotifier, watchCommits and watchStream); a
// stream subscriber's stays blocked past pos until its stream changes.
func (s *Store) awaitCommit(ctx context.Context, w *commitWaiter, pos uint64) (uint64, error) {
	defer w.waiting.Store(false)
	for {
		w.waiting.Store(true) // before the checks: see commitNotifier
		if err := s.usable(); err != nil {
			return 0, err
		}
		// ctx before the committed position: under a steady stream of
		// commits the position has always moved on.
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if c := s.committed.Load(); c > pos {
			return c, nil
		}
		// A non-blocking select takes no lock while the channel is open;
		// s.stop is shared by every subscriber.
		select {
		case <-s.stop:
			return 0, ErrClosed
		default:
		}
		<-w.wake
	}
}

// watchCommits registers a log subscriber with the commit notifier and
// has the end of ctx wake it, so that awaitCommit needs no blocking select
// on ctx.Done() and s.stop: ctx's end pokes this waiter, Close pokes every
// one, and failures wake every waiting one (notifyFailure). stop undoes
// both.
func (s *Store) watchCommits(ctx context.Context) (w *commitWaiter, stop func()) {
	w = s.commits.register()
	return w, stopWith(ctx, w, func() { s.commits.unregister(w) })
}

// watchStream is watchCommits for a subscriber of stream alone: commits
// that leave stream alone do not wake it.
func (s *Store) watchStream(ctx context.Context, stream string) (w *commitWaiter, stop func()) {
	w = s.commits.registerStream(stream)
	return w, stopWith(ctx, w, func() { s.commits.unregisterStream(stream, w) })
}

// stopWith has the end of ctx poke w, and returns the function that
// undoes that and unregisters w.
func stopWith(ctx context.Context, w *commitWaiter, unregister func()) func() {
	stopAfter := context.AfterFunc(ctx, w.poke)
	return func() {
		stopAfter()
		unregister()
	}
}

// SubscribeStream reads stream forward from version fromVersion and then
// follows it live, like Subscribe does the log: every later event of the
// stream is delivered once, in order. It ends when ctx ends, or the store
// closes or fails. While it waits, only commits that change stream (its
// events, deletes and metadata) wake it. fromVersion may lie past the
// stream's newest version (or the stream may not exist yet): the
// subscription then waits for that version, where Subscribe refuses a
// position past the log end.
func (s *Store) SubscribeStream(ctx context.Context, stream string, fromVersion int64) iter.Seq2[RecordedEvent, error] {
	return func(yield func(RecordedEvent, error) bool) {
		if fromVersion < 0 {
			yield(RecordedEvent{}, fmt.Errorf("%w: start version %d for a subscription", ErrInvalidRead, fromVersion))
			return
		}
		waiter, stop := s.watchStream(ctx, stream)
		defer stop()
		next := fromVersion
		var seen uint64 // committed position read through
		for {
			// The committed position before the read: anything committed
			// after it wakes the wait below.
			seen = s.committed.Load()
			n := 0
			for e, err := range s.ReadStream(stream, next, Forward) {
				// ctx every chunk's worth of events, as Subscribe does.
				if n%readChunk == 0 && err == nil {
					err = ctx.Err()
				}
				if err != nil {
					yield(RecordedEvent{}, err)
					return
				}
				if !yield(e, nil) {
					return
				}
				next = e.Version + 1
				n++
			}
			if _, err := s.awaitCommit(ctx, waiter, seen); err != nil {
				yield(RecordedEvent{}, err)
				return
			}
		}
	}
}
