package engine

import (
	"sync"
	"time"

	"github.com/spooldb/spool/mmapfile"
)

// waiter is an appender waiting for the msync that covers its records.
type waiter struct {
	end uint64
	ch  chan error
}

// waiterPool recycles the one-slot channels waiters are woken through.
var waiterPool = sync.Pool{New: func() any { return make(chan error, 1) }}

// flushLoop is the group-commit goroutine of the syncing modes. It takes
// everything written so far, msyncs it once, applies the index changes,
// publishes the committed position and wakes the waiters. It runs again as
// soon as more was written meanwhile: it never sleeps while work waits.
// In SyncInterval mode it runs on a ticker instead.
func (s *Store) flushLoop() {
	defer close(s.flusherDone)
	var tick <-chan time.Time
	if s.opts.Durability == SyncInterval {
		t := time.NewTicker(s.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.kick:
		case <-tick:
		case <-s.stop:
			s.commit() // whatever was written before Close began
			return
		}
		s.commit()
	}
}

// commit runs one group commit.
func (s *Store) commit() {
	s.mu.Lock()
	target := s.written
	waiters := s.waiters
	s.waiters = s.flushWaiters[:0]
	updates := s.updates
	s.updates = s.flushUpdates[:0]
	s.mu.Unlock()

	err := s.usable()
	if err == nil {
		err = mmapfile.Guard(func() error {
			if err := s.syncTo(target); err != nil {
				return err
			}
			for i := range updates {
				u := &updates[i]
				if err := s.putIndex(u.fp, u.stream, u.entry); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			err = s.fail(err)
		}
	}
	if err == nil {
		if len(updates) > 0 {
			s.mu.Lock()
			for i := range updates {
				u := &updates[i]
				if h, ok := s.pending[u.stream]; ok && h.tail == u.entry.Tail {
					delete(s.pending, u.stream)
				}
			}
			s.mu.Unlock()
		}
		if target > s.committed.Load() {
			s.committed.Store(target)
		}
		if len(waiters) > 0 {
			s.stats.commits.Add(1)
			s.stats.groupEvents.observe(uint64(len(waiters)))
		}
	}
	for _, w := range waiters {
		w.ch <- err
	}
	clear(waiters)
	clear(updates)
	s.flushWaiters = waiters[:0]
	s.flushUpdates = updates[:0]
}

// syncTo makes the log durable through position target.
func (s *Store) syncTo(target uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if target <= s.synced {
		return nil
	}
	list := *s.segs.Load()
	from := s.synced
	start := time.Now()
	for i, seg := range list {
		end := seg.limit()
		if i+1 < len(list) {
			end = list[i+1].base // a sealed segment's data ends where the next begins
		}
		if end <= from || seg.base >= target {
			continue
		}
		lo, hi := max(from, seg.base), min(target, end)
		if err := seg.file.Sync(seg.offset(lo), int64(hi-lo)); err != nil {
			return &fatalError{err}
		}
	}
	s.stats.msyncs.observe(uint64(time.Since(start).Microseconds()))
	s.synced = target
	s.durablePos.Store(target)
	return nil
}

// durable is a log position known to be durable (for records' synced-through field).
func (s *Store) durable() uint64 { return s.durablePos.Load() }
