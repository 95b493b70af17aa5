package engine

import (
	"time"

	"github.com/spooldb/spool/internal/plant"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// Group commit is a two-stage pipeline of goroutines:
//
//	committer: take the group → pwrite staged records → msync ─┐
//	applier:   index updates → publish committed → wake group → wake subscribers ◄┘
//
// so the msync of one group overlaps the index work and wake-ups of the
// group before it. The applier handles groups in commit order, so the
// committed position only grows, and a group's appenders are woken only
// after the msync covering their records and the index updates that make
// them readable.

// commitGroup is the appenders waiting for one group commit, with the
// index changes their records make once durable.
type commitGroup struct {
	done    chan struct{} // closed when the group's commit has an outcome
	err     error         // the outcome; written before done is closed
	waiting int           // appenders (and Syncs) waiting
	updates []indexUpdate
}

// commitWork is one synced group on its way to the applier.
type commitWork struct {
	group  *commitGroup // nil when nobody waits (SyncInterval rounds)
	target uint64       // log end the commit made durable
	err    error        // write or sync error
}

// groupLocked returns the group collecting for the next commit. Called
// with s.mu held.
func (s *Store) groupLocked() *commitGroup {
	if s.group == nil {
		g := &commitGroup{done: make(chan struct{})}
		select {
		case u := <-s.freeUpdates:
			g.updates = u
		default:
		}
		s.group = g
	}
	return s.group
}

// joinLocked adds the caller to the group collecting for the next commit
// and wakes the committer. Called with s.mu held.
func (s *Store) joinLocked() *commitGroup {
	g := s.groupLocked()
	g.waiting++
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return g
}

// wait blocks until g's commit has an outcome.
func (g *commitGroup) wait() error {
	<-g.done
	return g.err
}

// flushLoop is the committer of the syncing modes. It takes everything
// written so far, writes the staged records into the files, msyncs once
// and hands the group to the applier; then it goes again at once if more
// was written meanwhile: it never sleeps while work waits. In SyncInterval
// mode it runs on a ticker instead.
func (s *Store) flushLoop() {
	applied := make(chan struct{})
	go s.applyLoop(applied)
	defer func() {
		close(s.applyCh)
		<-applied
		close(s.flusherDone)
	}()
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

// commit runs the committer's part of one group commit.
func (s *Store) commit() {
	s.mu.Lock()
	w := commitWork{group: s.group, target: s.written}
	s.group = nil
	var chunks []stagedChunk
	if s.staging {
		chunks = s.takeStageLocked()
	}
	s.mu.Unlock()

	w.err = s.usable()
	if w.err == nil && len(chunks) > 0 {
		if w.err = writeStaged(chunks, s.sealTo); w.err != nil {
			// Failed before the chunks are released: from then on appenders
			// read the mapping, where these records never arrived, and
			// must see the store failed rather than "corrupt" bytes.
			w.err = s.fail(w.err)
		}
	}
	if s.staging {
		// The chunks are in the page cache now (or the store failed).
		s.mu.Lock()
		s.releaseStageLocked(chunks)
		s.mu.Unlock()
	}
	if w.err == nil && !plant.On(plant.AckBeforeSync) {
		w.err = mmapfile.Guard(func() error { return s.syncTo(w.target) })
	}
	if w.err != nil {
		w.err = s.fail(w.err)
	}
	s.applyCh <- w
}

// applyLoop is the applier: for each synced group in order it updates the
// index, publishes the committed position and wakes the group.
func (s *Store) applyLoop(done chan<- struct{}) {
	defer close(done)
	for w := range s.applyCh {
		s.apply(w)
	}
}

func (s *Store) apply(w commitWork) {
	g := w.group
	err := w.err
	if err == nil {
		err = s.usable() // a later failure (Close after crashForTest) stops the rest
	}
	var updates []indexUpdate
	if g != nil {
		updates = g.updates
	}
	if err == nil && len(updates) > 0 {
		err = mmapfile.Guard(func() error {
			defer s.applyView.close()
			for i := range updates {
				u := &updates[i]
				if err := s.applyUpdate(&s.applyView, u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			err = s.fail(err)
		}
		s.mu.Lock()
		for i := range updates {
			u := &updates[i]
			// Unless a later append or system record moved the head on
			// already: the whole entry must match, not only the tail (a
			// system record keeps the tail but changes Aux and State, and
			// a stream with system records only has no event tail).
			if h, ok := s.pending[u.stream]; ok && h.entry() == u.entry {
				delete(s.pending, u.stream)
			}
		}
		s.mu.Unlock()
	}
	// The committed position moves before the group is woken (an
	// appender must read what it appended), but subscribers are woken
	// after it: readied first, the appenders run first and join the next
	// group, instead of queueing behind up to every subscriber's read.
	moved := err == nil && w.target > s.committed.Load()
	if moved {
		s.committed.Store(w.target)
	}
	if g != nil {
		if err == nil {
			s.stats.commits.Add(1)
			s.stats.groupEvents.observe(uint64(g.waiting))
		}
		g.err = err
		close(g.done)
		if moved {
			// After the group's appenders, like the log's subscribers below.
			for i := range updates {
				s.commits.notifyStream(updates[i].stream)
			}
		}
		clear(updates)
		select {
		case s.freeUpdates <- updates[:0]:
		default:
		}
	}
	if moved {
		s.commits.notify()
	}
	if err == nil && s.checkpointDue(w.target) {
		// After the group's waiters were woken, so that they never wait
		// for it; before the next group's index updates. A failure fails
		// the store for what comes next; this group is durable already.
		if cerr := mmapfile.Guard(func() error { return s.checkpoint(w.target) }); cerr != nil {
			_ = s.fail(cerr)
		}
	}
}

// releaseSyncedLocked lets go of the writer's segments synced to their
// end: they are written no more, and the mapper may unmap them. Called
// with syncMu held.
func (s *Store) releaseSyncedLocked() {
	for len(s.writing) > 1 && s.writing[1].base <= s.synced {
		s.writing[0].release()
		s.writing[0] = nil
		s.writing = s.writing[1:]
	}
}

// syncTo makes the log durable through position target.
func (s *Store) syncTo(target uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	// After a failed msync the kernel may have marked the lost pages
	// clean: msyncing them again would "succeed". So a failure is sticky,
	// recorded before syncMu is released, and no later caller syncs.
	if p := s.failure.Load(); p != nil {
		return *p
	}
	if target <= s.synced {
		return nil
	}
	from := s.synced
	start := time.Now()
	for i, seg := range s.writing {
		end := seg.limit()
		if i+1 < len(s.writing) {
			end = s.writing[i+1].base // a sealed segment's data ends where the next begins
		}
		if end <= from || seg.base >= target {
			continue
		}
		lo, hi := max(from, seg.base), min(target, end)
		n := int64(hi - lo)
		if hi == target {
			// The zeroed record header past the log end too: the device
			// must read "end" there, not bytes an earlier life of the
			// file left past a clean end (a record of its own could
			// verify there). msync covers whole pages, so this costs a
			// page more only when the header crosses into the next one.
			n += int64(min(segment.RecordHeaderSize, seg.limit()-hi))
		}
		if plant.On(plant.SyncPageShort) {
			n = max(n-4096, 0)
		}
		err := seg.file.Sync(seg.offset(lo), n)
		if err != nil && plant.On(plant.RetryFailedSync) {
			err = seg.file.Sync(seg.offset(lo), n)
		}
		if err != nil {
			return s.fail(&fatalError{err})
		}
	}
	s.stats.msyncs.observe(uint64(time.Since(start).Microseconds()))
	s.synced = target
	s.releaseSyncedLocked()
	s.durablePos.Store(target)
	return nil
}

// sealTo makes the log durable through base, where a new segment starts,
// before any byte of that segment is written. Without that order a group
// that spans a roll could reach the device with the new segment's records
// but not the old one's tail, and recovery could not tell that torn tail
// from damage below acknowledged data (see recovery/doc.go).
func (s *Store) sealTo(base uint64) error {
	if plant.On(plant.AckBeforeSync) {
		return nil
	}
	return mmapfile.Guard(func() error { return s.syncTo(base) })
}

// durable is a log position known to be durable (for records' synced-through field).
func (s *Store) durable() uint64 { return s.durablePos.Load() }
