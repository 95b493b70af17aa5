package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/internal/plant"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/recovery"
	"github.com/spooldb/spool/segment"
)

// indexName is the hash index file in a store directory.
const indexName = "index"

// Store is an open event store. All methods are safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	fs   mmapfile.FS
	lock io.Closer

	// segs is the current segment list; readers load it without locks.
	segs atomic.Pointer[segmentList]
	// maps maps segments on demand, under Options.MaxMappedBytes.
	maps mapper
	// committed is the log position up to which records are acknowledged
	// and visible to readers; always a batch boundary.
	committed atomic.Uint64
	commits   commitNotifier // wakes subscribers when committed moves
	// durablePos is a log position known durable (msynced).
	durablePos atomic.Uint64
	// checkpointed is the index's last checkpoint (see checkpoint.go);
	// checkpointMu orders the checkpoints taken.
	checkpointed atomic.Uint64
	checkpointMu sync.Mutex
	// names interns stream IDs and event types for log reads.
	names nameTable
	// meta holds the retention of the streams that have system records.
	meta metaTable
	// failure holds the error that put the store into its failed state.
	failure atomic.Pointer[error]
	closed  atomic.Bool

	// compactSlot lets one Compact run at a time (holding its one slot);
	// a channel, so that a Compact waiting for it can give up with its
	// context. compacting is its progress (Stats.Compacting).
	compactSlot chan struct{}
	compacting  atomic.Pointer[CompactProgress]

	// lifeMu orders Close against readers: readers hold it shared while
	// they touch the index or take segment references.
	lifeMu sync.RWMutex
	index  *hashindex.Index

	// mu serialises appenders. Everything below up to syncMu is guarded by it.
	mu      sync.Mutex
	written uint64 // log end of the appended records (staged ones included)
	active  *mappedSegment
	// writerView holds the segments appenders read records from (stream
	// heads, skip targets); released after each append.
	writerView readView
	staging    bool // appends go to the stage (see stage.go); fixed at Open
	// staged: appended records not yet handed to the committer; inflight:
	// handed over, being written into the files.
	staged      []stagedChunk
	inflight    []stagedChunk
	stagedSpare []stagedChunk         // recycled chunk list
	stageFree   [][]byte              // recycled stage buffers
	pending     map[string]streamHead // durable mode: heads not yet in the index
	group       *commitGroup          // durable mode: appenders and index changes awaiting the next commit
	closing     bool
	// spareAsked: a spare was requested for the next roll.
	spareAsked bool
	scan       segment.Record // scratch for decoding on the write path
	reserved   pendingWrite   // the append in progress (reserveLocked)
	// lastRecordLen is the length of the record that ends at written, for
	// the clean index header (0 when not known).
	lastRecordLen uint32
	// faultedTo is the file offset of the active segment through which
	// the writer faulted pages in for its stores (see faultAheadLocked).
	faultedTo int64
	// touched, while not nil, collects the streams given system records
	// while a compaction takes its retention snapshot; floors are the
	// cutoffs of the compaction running, per stream (see
	// retentionCheckpoint).
	touched map[string]struct{}
	floors  map[string]int64
	// lastStamp is the store's time: the newest clock reading a record
	// was stamped with since Open, or a compaction measured MaxAge at
	// (since Open, or the newest compacted file's). Stamps never go
	// back, so that MaxAge hides a prefix of every stream (see
	// ageCutoff). Readers measure MaxAge no earlier than measured
	// (readNow), not this.
	// Written under mu; stampLocked also keeps a stream's order across
	// reopens.
	lastStamp atomic.Int64
	// measured is the newest time a compaction measured MaxAge at (since
	// Open, or the newest compacted file's creation time): readers never
	// measure MaxAge earlier (readNow), so that they never show again what
	// a compaction removed. Unlike lastStamp, appends do not move it: one
	// clock reading far in the future must not make readers of every
	// stream measure MaxAge there.
	measured atomic.Int64

	// syncMu serialises msync calls and guards synced and writing.
	syncMu sync.Mutex
	synced uint64 // log position through which the mapping is durable
	// writing holds the writer's references to the segments it may still
	// write, in log order: the active one, and older ones whose records
	// are not yet all synced. syncTo lets go of them once they are.
	writing []*mappedSegment
	// applyView holds the segments the applier reads records from while
	// it updates the index; released after each group.
	applyView readView

	kick        chan struct{}   // wakes the flusher
	stop        chan struct{}   // closed by Close
	flusherDone chan struct{}   // closed when the committer and applier exited
	applyCh     chan commitWork // committer → applier
	freeUpdates chan []indexUpdate
	spareCh     chan spareResult // a prepared spare segment file
	needSpare   chan struct{}    // asks the preparer for a spare
	spareDone   chan struct{}    // closed when the preparer exits
	// indexPrep runs the index's growth preparation (see askIndexGrowth);
	// indexPrepping is set while one runs.
	indexPrep     sync.WaitGroup
	indexPrepping atomic.Bool

	stats   counters
	opened  Recovery
	openDur time.Duration
}

// Recovery describes what Open found and did.
type Recovery struct {
	Clean           bool   // the index was reused without scanning the log
	ReplayedIndex   bool   // the index was brought up to date from its checkpoint
	RebuiltIndex    bool   // the index was rebuilt from the whole log
	Records         int    // records scanned while replaying or rebuilding
	Streams         int    // streams in the index after replaying or rebuilding
	TornBytes       int64  // bytes of unacknowledged writes cut from the tail
	LogEnd          uint64 // log position where appends continue
	RemovedSegments int    // empty segments after the end, removed
}

// Open opens (creating if needed) the store in directory dir. A nil opts
// means defaults. After an unclean stop, Open cuts the unacknowledged tail
// of the log and brings the index up to date by replaying the log from the
// index's last checkpoint, or rebuilds it from the whole log when that is
// not safe.
//
// Open reads the newest system record of every stream that has metadata.
// One that fails its checks does not fail Open: that stream's retention is
// unknown, so every read of it, append to it and log read that reaches
// one of its events fails with the corruption error, and the rest of the
// store works (Stats.DamagedStreams counts such streams).
func Open(dir string, opts *Options) (*Store, error) {
	start := time.Now()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	fs := o.Storage
	if fs == nil {
		var err error
		if fs, err = mmapfile.OpenDir(dir, o.SegmentPrep); err != nil {
			return nil, err
		}
	}
	lock, err := fs.Lock()
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:         dir,
		opts:        o,
		fs:          fs,
		lock:        lock,
		pending:     make(map[string]streamHead),
		compactSlot: make(chan struct{}, 1),
		staging:     o.Durability == SyncEachCommit && !o.MappedWrites,
		kick:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		flusherDone: make(chan struct{}),
		// One group in the applier's hands while the next is synced;
		// more would only queue.
		applyCh:     make(chan commitWork, 1),
		freeUpdates: make(chan []indexUpdate, 2),
		spareCh:     make(chan spareResult, 1),
		needSpare:   make(chan struct{}, 1),
		spareDone:   make(chan struct{}),
	}
	s.segs.Store(&segmentList{})
	s.maps = mapper{fs: fs, limit: o.MaxMappedBytes, segs: &s.segs}
	s.writerView = readView{s: s}
	s.applyView = readView{s: s}
	if err := mmapfile.Guard(s.load); err != nil {
		s.dropSpare() // load may have adopted one before it failed
		s.releaseFiles()
		_ = lock.Close()
		return nil, fmt.Errorf("spool: open %s: %w", dir, err)
	}
	go s.prepareSpares()
	s.askSpareAtHalfLocked(s.active, s.written)
	if o.Durability == NoSync {
		close(s.flusherDone)
	} else {
		go s.flushLoop()
	}
	s.openDur = time.Since(start)
	return s, nil
}

// load opens the segments and the index, recovering when needed.
func (s *Store) load() error {
	// A compaction a crash interrupted is finished or rolled back first,
	// so that every position lies in exactly one segment.
	if _, err := compaction.Cleanup(s.fs); err != nil {
		return err
	}
	names, err := s.fs.List()
	if err != nil {
		return err
	}
	var list segmentList
	for _, name := range names {
		if isSpare(name) {
			if err := s.adoptSpare(name); err != nil {
				return err
			}
			continue
		}
		base, ok := segment.ParseFileName(name)
		if !ok {
			continue
		}
		seg, err := s.openSegment(name, base)
		if err != nil {
			return err
		}
		list = append(list, seg)
		s.segs.Store(&list)
	}
	for i, f := range list[:max(len(list)-1, 0)] {
		next := list[i+1].base
		if f.compacted && f.end.Load() != next {
			return &CorruptionError{Segment: f.name, Offset: segment.HeaderEndAt, Reason: fmt.Sprintf(
				"compacted segment ends at %d, but the next segment starts at %d", f.end.Load(), next)}
		}
		f.end.Store(next)
	}
	if len(list) > 0 && list[len(list)-1].compacted {
		f := list[len(list)-1]
		return &CorruptionError{Segment: f.name, Offset: segment.HeaderFlagsAt, Reason: "the newest segment is a compacted one: the segment written after it is missing"}
	}
	if len(list) == 0 {
		f, m, err := s.createSegment(0)
		if err != nil {
			return err
		}
		s.writing = []*mappedSegment{m}
		list = append(list, f)
		s.segs.Store(&list)
	}

	if err := s.openIndex(list); err != nil {
		return err
	}
	list = *s.segs.Load()
	if s.writing == nil {
		m, err := s.maps.acquire(list[len(list)-1])
		if err != nil {
			return err
		}
		s.writing = []*mappedSegment{m}
	}
	s.active = s.writing[0]
	end := s.opened.LogEnd
	s.written, s.synced = end, end
	s.committed.Store(end)
	s.durablePos.Store(end)
	s.checkpointed.Store(s.index.Checkpoint())
	if err := s.loadMeta(); err != nil {
		return err
	}
	// The active segment is written page by page from here: keep
	// read-ahead from creating large page-cache folios there.
	off := s.active.offset(end)
	s.active.file.Advise(off, int64(len(s.active.data))-off, mmapfile.AdviseRandom)
	return nil
}

// openSegment opens and checks the segment file name and hands its mapping
// to the mapper, which may unmap it again when the store maps more than
// it may.
func (s *Store) openSegment(name string, base uint64) (*segmentFile, error) {
	file, err := s.fs.Open(name)
	if err != nil {
		return nil, err
	}
	added := false
	defer func() {
		// Deferred: a fault reading the header (a panic unwinding to
		// Open's Guard) must not leave the file open either.
		if !added {
			_ = file.Close()
		}
	}()
	f := &segmentFile{name: name, base: base, size: file.Size()}
	h, err := segment.ReadHeader(file.Bytes(), file.Size())
	if err == nil && h.Compacted() {
		f.compacted = true
		f.end.Store(h.End)
		// Its creation time is when compaction measured MaxAge: stamps
		// go on from there, also when the clock went back since.
		s.lastStamp.Store(max(s.lastStamp.Load(), h.Created))
		s.measured.Store(max(s.measured.Load(), h.Created))
	}
	var pmap segment.PositionMap
	if err == nil {
		pmap, err = checkSegmentFile(file, f)
	}
	if err != nil {
		return nil, segment.WithSegment(err, name)
	}
	s.maps.add(f, file, pmap)
	added = true
	return f, nil
}

// openIndex opens the index, or brings it up to date, or rebuilds it:
//   - after a clean Close, when the log ends exactly where the index says
//     (zeros there, and a record of the length the index header gives
//     ending there: one read), it is used as it is: nothing needs
//     scanning;
//   - after an unclean stop it is replayed from its checkpoint (only the
//     log written since the last index checkpoint is scanned);
//   - when that is not safe, or the index is missing or invalid, it is
//     rebuilt from the whole log. Its checkpoint, a log position that was
//     durable when the index said so, still tells Rebuild what must not be
//     cut.
//
// An I/O error (a failed msync above all) fails Open instead: rebuilding
// would repeat what failed, or lose the checkpoint.
func (s *Store) openIndex(list segmentList) error {
	ix, err := hashindex.Open(s.fs, indexName)
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, hashindex.ErrInvalid):
		return s.recover(list, 0)
	case err != nil:
		// An I/O error: rebuilding would lose the index's checkpoint,
		// the durable position that tells damage from a torn tail.
		return err
	}
	// Until ix is the store's (or closed for a rebuild), a failure closes
	// it: deferred, so that a fault reading the log (a panic unwinding to
	// Open's Guard) does not leave it open either.
	owned := false
	defer func() {
		if !owned {
			_ = ix.Close()
		}
	}()
	cp := ix.Checkpoint()
	last := list[len(list)-1]
	unproven := false // a clean index whose checkpoint looks like the log end
	if ix.Clean() && cp >= last.base && cp <= last.limit() {
		m, err := s.maps.acquire(last)
		if err != nil {
			return err
		}
		atEnd := func() bool {
			defer m.release() // a fault here must not keep the mapping
			return segment.IsEnd(m.data[m.offset(cp):])
		}()
		if atEnd && s.recordEndsAt(cp, ix.CheckpointRecordLen()) {
			owned = true
			s.index = ix
			s.opened = Recovery{Clean: true, LogEnd: cp}
			s.lastRecordLen = ix.CheckpointRecordLen()
			return nil
		}
		// Zeros at the checkpoint but no record of the length the header
		// gives ending there: an index from before that field, or one
		// ahead of the log's data (a stale copy). Replay checks the
		// checkpoint against the log before it trusts anything.
		unproven = atEnd
	}
	if !ix.Clean() || unproven {
		rep, err := recovery.Replay(s.fs, s.recoverySegments(list), ix)
		if err == nil {
			owned = true
			s.index = ix
			s.recovered(list, rep)
			s.opened.ReplayedIndex = true
			return nil
		}
		if !errors.Is(err, recovery.ErrReplayUnsafe) && !errors.Is(err, segment.ErrCorrupt) && !errors.Is(err, hashindex.ErrCorrupt) {
			// A failed msync (or other I/O error) is final: a Rebuild
			// would msync the same pages again, which "succeeds" once the
			// kernel has marked them clean. The next Open starts over.
			return err
		}
		// Replay checks everything before it changes anything, and what
		// it changes (the cut tail) Rebuild cuts the same way. If it got
		// as far as removing empty trailing segments, Rebuild must not
		// look for them.
		if n := rep.RemovedSegments; n > 0 {
			list = s.dropSegments(list, n)
		}
	}
	owned = true
	_ = ix.Close()
	return s.recover(list, cp)
}

// recover scans the log, cuts an unacknowledged tail and rebuilds the index.
func (s *Store) recover(list segmentList, durable uint64) error {
	// The old index stays until Rebuild replaces it, which it does only
	// after every check passed: when Rebuild refuses damage, the old
	// index's checkpoint must still be there to prove it next time.
	ix, rep, err := recovery.Rebuild(s.fs, s.recoverySegments(list), indexName, s.opts.IndexSlots, durable)
	if err != nil {
		return err
	}
	s.index = ix
	s.recovered(list, rep)
	s.opened.RebuiltIndex = true
	return nil
}

// recoverySegments describes list to recovery, which maps the segments
// through the mapper as it goes.
func (s *Store) recoverySegments(list segmentList) []recovery.Segment {
	segs := make([]recovery.Segment, len(list))
	for i, f := range list {
		segs[i] = recovery.Segment{Name: f.name, Base: f.base, Size: f.size, Compacted: f.compacted, End: f.end.Load(),
			Map: func() (mmapfile.File, segment.PositionMap, func(), error) {
				m, err := s.maps.acquire(f)
				if err != nil {
					return nil, segment.PositionMap{}, nil, err
				}
				return m.file, m.pmap, m.release, nil
			}}
	}
	return segs
}

// dropSegments forgets the last n segments of list, whose files recovery
// removed, and returns the rest.
func (s *Store) dropSegments(list segmentList, n int) segmentList {
	for _, f := range list[len(list)-n:] {
		s.maps.drop(f)
	}
	kept := list[:len(list)-n]
	if last := kept[len(kept)-1]; !last.compacted {
		last.end.Store(0) // the newest again
	}
	s.segs.Store(&kept)
	return kept
}

// recovered drops the segments recovery removed and records what it did.
func (s *Store) recovered(list segmentList, rep recovery.Report) {
	if n := rep.RemovedSegments; n > 0 {
		s.dropSegments(list, n)
	}
	s.opened = Recovery{
		Records:         rep.Records,
		Streams:         rep.Streams,
		TornBytes:       rep.TornBytes,
		LogEnd:          rep.End,
		RemovedSegments: rep.RemovedSegments,
	}
	s.lastRecordLen = rep.LastRecordLen
}

// recordEndsAt reports whether a record of n bytes ends at log position
// pos, the checkpoint of a clean index (n from its header), so that Open
// may trust the index without reading it: a checkpoint ahead of the log's
// data, or inside a record, has no such record. One verified read. With
// no record (n 0) pos must be where the log starts, 0, or where a
// compacted segment's range ends: a log cut there by spool recover may
// end after a record that ends before it.
func (s *Store) recordEndsAt(pos uint64, n uint32) bool {
	if n == 0 {
		return pos == 0 || s.compactedEndAt(pos)
	}
	if uint64(n) > pos {
		return false
	}
	v := readView{s: s}
	defer v.close()
	var r segment.Record
	return readRecord(&v, pos-uint64(n), &r) == nil && r.Len() == int(n)
}

// compactedEndAt reports whether a compacted segment's range ends at log
// position pos.
func (s *Store) compactedEndAt(pos uint64) bool {
	for _, f := range *s.segs.Load() {
		if f.compacted && f.end.Load() == pos {
			return true
		}
	}
	return false
}

// createSegment makes a new, durable, empty segment starting at base, from
// the prepared spare when one is ready. The mapping comes with a reference
// for the writer.
func (s *Store) createSegment(base uint64) (*segmentFile, *mappedSegment, error) {
	var f mmapfile.File
	select {
	case r := <-s.spareCh:
		f = r.file // nil when preparing it failed: try again below
	default:
	}
	if f == nil {
		// No spare ready (or its preparation failed, say on a disk full
		// for a moment): create the segment here, on the write path,
		// where a failure fails the store.
		var err error
		if f, err = s.fs.Create(spareName(spareTmp), s.opts.SegmentSize); err != nil {
			return nil, nil, err
		}
	}
	added := false
	defer func() {
		// Deferred: a fault writing the header (a panic unwinding to
		// the writer's Guard) must not leave the file open either.
		if !added {
			_ = f.Close()
		}
	}()
	s.spareAsked = false
	segment.PutHeader(f.Bytes(), segment.Header{Base: base, Size: uint64(f.Size()), Created: time.Now().UnixNano()})
	name := segment.FileName(base)
	err := f.Sync(0, segment.HeaderSize)
	if err == nil {
		err = s.fs.Rename(f.Name(), name)
	}
	if err == nil && !plant.On(plant.NoDirSyncNewSegment) {
		err = s.fs.SyncDir()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("spool: create segment %s: %w", name, err)
	}
	sf := &segmentFile{name: name, base: base, size: f.Size()}
	m := s.maps.add(sf, f, segment.PositionMap{})
	added = true
	m.refs.Add(1) // not in the list yet, so not evicted meanwhile
	return sf, m, nil
}

// fail puts the store into its failed state with cause; the first cause wins.
func (s *Store) fail(cause error) error {
	err := fmt.Errorf("%w: %w", ErrFailed, cause)
	if s.failure.CompareAndSwap(nil, &err) {
		s.commits.notifyFailure() // subscribers end with the failure
		return err
	}
	return *s.failure.Load()
}

// usable returns the error every call reports once the store is closed or
// failed, or nil.
func (s *Store) usable() error {
	if p := s.failure.Load(); p != nil {
		return *p
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Sync makes every appended event durable, whatever the durability mode.
func (s *Store) Sync() error {
	if err := s.usable(); err != nil {
		return err
	}
	if s.opts.Durability == SyncEachCommit {
		// Appended records may still be staged: the committer writes and
		// syncs them. Waiting for it also orders Sync after every append
		// that returned before it.
		return s.waitCommitted()
	}
	// Shared lifeMu: Close's final sync and clean flush, which hold it
	// exclusively, come after this Sync's checkpoint, never before it, and
	// the files stay open meanwhile.
	s.lifeMu.RLock()
	defer s.lifeMu.RUnlock()
	return s.syncHeld()
}

// syncHeld is Sync in the modes other than SyncEachCommit, for a caller
// holding lifeMu shared (a second RLock could wait behind Close's Lock).
func (s *Store) syncHeld() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	target := s.written
	s.mu.Unlock()
	if err := s.syncTo(target); err != nil {
		return s.fail(err)
	}
	// Appends made the index updates for everything before target under
	// s.mu before target was read, so the index can be checkpointed there.
	if err := mmapfile.Guard(func() error { return s.checkpoint(target) }); err != nil {
		return s.fail(err)
	}
	return nil
}

// waitCommitted waits until everything appended so far is committed, in
// SyncEachCommit mode.
func (s *Store) waitCommitted() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.written <= s.committed.Load() {
		s.mu.Unlock()
		return nil
	}
	g := s.joinLocked()
	s.mu.Unlock()
	return g.wait()
}

// Close syncs everything appended, marks the index clean and releases the
// directory. A Compact under way stops (between two steps: Close waits
// for the swap in progress); readers still iterating keep their segments
// mapped until they finish. Close after a failure releases the files without marking the
// index clean, so the next Open recovers, and returns the failure: in
// SyncInterval mode a failed timed msync has no caller to tell but Close,
// and a nil from Close would say that what was appended is durable.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closing = true
	end, lastLen := s.written, s.lastRecordLen
	s.mu.Unlock()

	s.stopBackground()
	<-s.flusherDone
	<-s.spareDone
	s.indexPrep.Wait() // no append runs any more to start another
	s.dropSpare()      // a prepared spare stays on disk for the next Open
	// Wait for a Compact under way (the stop above cancels it) and keep
	// its slot, so that none starts. This comes before lifeMu: Compact
	// holds that shared while it calls Progress, and a callback taking it
	// shared again (Stats, a read) would queue behind Close's Lock below
	// and never return.
	s.compactSlot <- struct{}{}

	// Exclusive lifeMu from here: a Sync still running (it holds lifeMu
	// shared) finishes its checkpoint before the clean flush below.
	s.lifeMu.Lock()
	var err error
	if p := s.failure.Load(); p != nil {
		err = *p
	} else {
		err = mmapfile.Guard(func() error {
			if err := s.syncTo(end); err != nil {
				return err
			}
			return s.index.Flush(end, lastLen, true)
		})
	}
	s.closed.Store(true)
	s.releaseFiles()
	s.lifeMu.Unlock()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("spool: close %s: %w", s.dir, err)
	}
	return nil
}

// stopBackground tells the background goroutines and the subscribers
// waiting for a commit that the store is closing. A channel close is not
// ordered with the waiters' flags (see commitNotifier), so every waiter is
// poked.
func (s *Store) stopBackground() {
	close(s.stop)
	s.commits.notifyAll()
}

// releaseFiles closes the index and lets go of every segment; readers
// still holding one keep it mapped until they finish.
func (s *Store) releaseFiles() {
	if s.index != nil {
		_ = s.index.Close()
		s.index = nil
	}
	s.syncMu.Lock()
	for _, m := range s.writing {
		m.release()
	}
	s.writing = nil
	s.syncMu.Unlock()
	s.maps.close(*s.segs.Load())
	s.segs.Store(&segmentList{})
}

// Recovered tells what the Open that returned s found and did.
func (s *Store) Recovered() Recovery { return s.opened }

// OpenDuration is how long Open took.
func (s *Store) OpenDuration() time.Duration { return s.openDur }

// Options returns the options the store runs with, defaults applied.
func (s *Store) Options() Options { return s.opts }
