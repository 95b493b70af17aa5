package crash

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// state is one crash state: the storage set-up, the workload, where the
// power is cut and how the crash settles.
type state struct {
	seed      uint64
	mode      mode
	w         workload
	slots     uint64
	writeBack float64
	dirPrefix bool
	freezeAt  int64 // cut after this many storage operations; 0: none
	// cutAck cuts the power right after the cutAck-th acknowledged
	// append (0: none): where appends touch no storage (SyncInterval,
	// NoSync), storage operations are too few to cut between them.
	cutAck        int64
	faults        faults
	recoveryFault fault // armed for the Open after the crash; nth 0: none
	resolution    simfs.Resolution
	// lie makes every Sync report success without syncing: a planted
	// durability bug, to show the checks catch one.
	lie bool
}

func (st state) String() string {
	return fmt.Sprintf("seed=%d mode=%v %v slots=%d writeback=%.2f dirprefix=%v freeze-at=%d cut-ack=%d %v recovery-%v %v",
		st.seed, st.mode, st.w, st.slots, st.writeBack, st.dirPrefix, st.freezeAt, st.cutAck, st.faults, faults{st.recoveryFault}, st.resolution)
}

// randomState draws a state from its seed. The draws of stream 0x5eed
// are those of the states before modes were drawn, in their order; the
// mode and what depends on it come from modeStream.
func randomState(seed uint64) state {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	st := state{
		seed: seed,
		w: workload{
			segSize:   []int64{64 << 10, 64 << 10, 128 << 10}[r.IntN(3)],
			workers:   1 + r.IntN(3),
			perWorker: 4 + r.IntN(20),
			phases:    1 + r.IntN(3),
			streams:   1 + r.IntN(4),
		},
		slots:      16 << r.IntN(2),
		resolution: simfs.Random,
	}
	mapped := r.IntN(3) == 0
	st.writeBack = []float64{0, 0.02, 0.2}[r.IntN(3)]
	st.dirPrefix = r.IntN(2) == 0
	// About three storage operations per append, plus opening.
	budget := int64(st.w.workers*st.w.perWorker*st.w.phases*3 + 20*st.w.phases)
	if r.IntN(5) > 0 {
		st.freezeAt = 1 + r.Int64N(budget)
	}
	if r.IntN(8) == 0 {
		st.faults = append(st.faults, fault{simfs.OpSync, 1 + r.Int64N(int64(st.w.workers*st.w.perWorker*st.w.phases))})
	}
	if r.IntN(16) == 0 {
		st.faults = append(st.faults, fault{simfs.OpCreate, 1 + r.Int64N(4)})
	}
	switch r.IntN(10) {
	case 0:
		st.resolution = simfs.DropAll
	case 1:
		st.resolution = simfs.KeepAll
	}

	rm := rand.New(rand.NewPCG(seed, modeStream))
	st.mode = drawMode(rm, mapped)
	if !st.mode.everyAck() {
		st.freezeAt, st.cutAck = cutPoint(rm, st.w)
	}
	st.faults = drawFaults(rm, st.faults)
	st.recoveryFault = drawRecoveryFault(rm)
	return st
}

// compactionState is randomState with a workload that deletes and
// compacts a lot over longer runs (workload.compaction), its power cut
// drawn over the whole run.
func compactionState(seed uint64) state {
	st := randomState(seed)
	r := rand.New(rand.NewPCG(seed, 0xc0de))
	st.w.compaction = true
	st.w.segSize = 64 << 10
	st.w.perWorker = 30 + r.IntN(60)
	if st.freezeAt > 0 {
		// Compactions add a dozen storage operations each.
		budget := int64(st.w.workers*st.w.perWorker*st.w.phases*5 + 20*st.w.phases)
		st.freezeAt = 1 + r.Int64N(budget)
	}
	return st
}

func (st state) options(fs *simfs.FS) *engine.Options {
	var storage mmapfile.FS = fs
	if st.lie {
		storage = lyingFS{fs}
	}
	return &engine.Options{Storage: storage, SegmentSize: st.w.segSize, IndexSlots: st.slots,
		Durability: st.mode.durability, MappedWrites: st.mode.mapped, SyncInterval: st.mode.interval}
}

// run runs the state and returns what its checks counted, and an error
// listing every violation.
func (st state) run() (tally, error) {
	r := rand.New(rand.NewPCG(st.seed, 0xc4a5))
	m, fs, s := st.workload()
	// The power cut, then the old store's goroutines are stopped: their
	// calls fail with the frozen storage.
	after := fs.Crash(r, st.resolution)
	if s != nil {
		_ = s.Close()
	}
	t := st.recoverAndCheck(after, r, m)
	if fs.Stats().Injected > 0 {
		t.injected = 1
	}
	return t, m.err()
}

// workload opens a store over a new FS and runs the state's workload on
// it, until it ends or the storage freezes. It returns the model, the FS
// and the store, which is still open (nil if an open failed).
func (st state) workload() (*model, *simfs.FS, *engine.Store) {
	m := &model{seed: st.seed, everyAck: st.mode.everyAck()}
	fs := simfs.New(simfs.Config{Seed: st.seed, WriteBack: st.writeBack, DirPrefix: st.dirPrefix})
	fs.FreezeAfter(st.freezeAt)
	st.faults.arm(fs)
	if st.cutAck > 0 {
		m.onAck = func(n int64) {
			if n == st.cutAck {
				fs.Freeze()
			}
		}
	}
	// A call may fail only when the storage was made to fail.
	disturbed := func() bool { return fs.Frozen() || fs.Stats().Injected > 0 }

	for w := range st.w.workers {
		for k := range st.w.streams {
			m.streams = append(m.streams, &stream{name: streamName(w, k), version: -1})
		}
		m.deleted = append(m.deleted, &stream{name: fmt.Sprintf("w%d-deletes", w), version: -1})
	}
	s, err := engine.Open("crash", st.options(fs))
	if err != nil {
		s = nil
		if !disturbed() {
			m.violate("open of a new store: %v", err)
		}
	}
	for phase := 0; s != nil && phase < st.w.phases; phase++ {
		var wg sync.WaitGroup
		for w := range st.w.workers {
			wk := &worker{id: w, rng: rand.New(rand.NewPCG(st.seed, uint64(w*10+phase))), m: m, s: s, w: st.w,
				streams: m.streams[w*st.w.streams : (w+1)*st.w.streams], del: m.deleted[w], n: phase * 100000, off: fs.Frozen}
			wg.Add(1)
			go func() {
				defer wg.Done()
				wk.run(st.w.perWorker)
			}()
		}
		wg.Wait()
		if phase == st.w.phases-1 || m.failed.Load() {
			break
		}
		acked := m.acks.Load()
		if err := s.Close(); err != nil {
			s = nil
			if !disturbed() {
				m.violate("clean close: %v", err)
			}
			break
		}
		m.promise(acked)
		if s, err = engine.Open("crash", st.options(fs)); err != nil {
			s = nil
			if !disturbed() {
				m.violate("reopen after a clean close: %v", err)
			}
		}
	}
	if s != nil && m.failed.Load() {
		probeFailed(s, m)
	}
	return m, fs, s
}

// recoverAndCheck opens the crashed FS, checks the recovered store against
// the model, crashes it again at once and checks the log did not change,
// then appends to every stream.
func (st state) recoverAndCheck(after *simfs.FS, r *rand.Rand, m *model) tally {
	t := tally{states: 1}
	after, s2, ok := st.openAfterCrash(after, r, m, &t)
	if !ok {
		return t
	}
	log1, t1 := m.check(s2)
	t.add(t1)
	// Whatever recovery cut off must be gone from the device too.
	checkDurableEnd(after, s2.Stats().CommittedPosition, m)

	// Recovery must be idempotent: crash again at once, with no writes.
	again := after.Crash(r, simfs.Random)
	_ = s2.Close()
	s3, err := engine.Open("crash", st.options(again))
	if err != nil {
		m.violate("open after a second crash right after recovery: %v", err)
		return t
	}
	if log3, _ := m.check(s3); !slices.Equal(log1, log3) {
		m.violate("a crash right after recovery changed the log: %d events, then %d", len(log1), len(log3))
	}
	st.continueAfter(s3, m)
	st.crashAfterContinuing(again, s3, r, m)
	return t
}

// freshStreams is how many streams continueAfter creates: more than a
// state's smallest index holds, so that its growth is crashed too.
const freshStreams = 24

// crashAfterContinuing checks that a recovered store that was written to
// again survives the next crash: everything is synced, the power is cut,
// and recovery must bring back exactly the log read before the cut. Bytes
// that an earlier recovery cut off (a torn tail, records after it) must
// not come back from under the records written over them.
func (st state) crashAfterContinuing(fs *simfs.FS, s *engine.Store, r *rand.Rand, m *model) {
	if err := s.Sync(); err != nil {
		m.violate("sync after appending to the recovered store: %v", err)
		_ = s.Close()
		return
	}
	before, err := readLog(s)
	if err != nil {
		m.violate("recovered store written to again: %v", err)
	}
	checkDurableEnd(fs, s.Stats().CommittedPosition, m)
	cut := fs.Crash(r, simfs.Random)
	_ = s.Close() // its storage lost power
	s2, err := engine.Open("crash", st.options(cut))
	if err != nil {
		m.violate("open after a crash of the recovered store written to again: %v", err)
		return
	}
	defer func() {
		if err := s2.Close(); err != nil {
			m.violate("close after recovery: %v", err)
		}
	}()
	after, err := readLog(s2)
	if err != nil {
		m.violate("after a crash of the recovered store written to again: %v", err)
	}
	if !slices.Equal(entries(before), entries(after)) {
		m.violate("a crash of the recovered store written to again changed its synced log: %d events, then %d", len(before), len(after))
		return
	}
	// The index (grown by the fresh streams, its growth's tail perhaps cut)
	// must lead to every stream's newest event.
	newest := make(map[string]int64)
	for _, e := range after {
		newest[e.Stream] = max(newest[e.Stream], e.Version)
	}
	for name, v := range newest {
		if got, err := s2.StreamVersion(name); err != nil || got != v {
			m.violate("after a crash of the recovered store written to again, StreamVersion(%s) = %d, %v; the log's newest is %d", name, got, err, v)
			return
		}
	}
	for i := range before {
		if !bytes.Equal(before[i].Data, after[i].Data) {
			m.violate("a crash of the recovered store written to again changed the data of %s version %d", before[i].Stream, before[i].Version)
			return
		}
	}
}

// continueAfter appends to every stream of the recovered store with its
// recovered version as expected version and reads the event back, then
// creates freshStreams new streams, enough to grow a small index.
func (st state) continueAfter(s *engine.Store, m *model) {
	defer func() {
		for i := range freshStreams {
			name := fmt.Sprintf("fresh-%d", i)
			if _, err := s.Append(bg, name, engine.NoStream, engine.Event{Type: "after", Data: []byte(name)}); err != nil {
				m.violate("stream %s: creating it after recovery: %v", name, err)
				return
			}
		}
	}()
	for _, sm := range m.deleted {
		// NoStream when deleted: the versions go on after the old ones.
		v, err := s.StreamVersion(sm.name)
		if errors.Is(err, engine.ErrStreamDeleted) {
			// Tombstoned for good (checkDeleted checked it was issued).
			if _, err := s.Append(bg, sm.name, engine.Any, engine.Event{Type: "after"}); !errors.Is(err, engine.ErrStreamDeleted) {
				m.violate("stream %s: append to the tombstoned stream after recovery: %v", sm.name, err)
			}
			continue
		}
		if err != nil {
			m.violate("stream %s: version after recovery: %v", sm.name, err)
			return
		}
		res, err := s.Append(bg, sm.name, v, engine.Event{Type: "after"})
		if err != nil || (v >= 0 && res.FirstVersion != v+1) {
			m.violate("stream %s: append after recovery (expected %d): %+v, %v", sm.name, v, res, err)
			return
		}
		if v2, err := s.StreamVersion(sm.name); err != nil || v2 != res.FirstVersion {
			m.violate("stream %s: version after appending at %d: %d, %v", sm.name, res.FirstVersion, v2, err)
		}
	}
	for _, sm := range m.streams {
		v, err := s.StreamVersion(sm.name)
		if err != nil {
			m.violate("stream %s: version after recovery: %v", sm.name, err)
			return
		}
		ev := engine.Event{Type: "after", Data: []byte(sm.name)}
		res, err := s.Append(bg, sm.name, v, ev)
		if err != nil {
			m.violate("stream %s: append after recovery (expected %d): %v", sm.name, v, err)
			return
		}
		if res.FirstVersion != v+1 {
			m.violate("stream %s: append after recovery landed at version %d, want %d", sm.name, res.FirstVersion, v+1)
		}
		for e, err := range s.ReadStream(sm.name, engine.End, engine.Backward) {
			if err != nil || e.Type != "after" || e.Version != v+1 {
				m.violate("stream %s: reading back the append after recovery: %v %q v%d", sm.name, err, e.Type, e.Version)
			}
			break
		}
	}
}

func (m *model) err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.violations) == 0 {
		return nil
	}
	return errors.New(strings.Join(m.violations, "\n\t"))
}

// checkDurableEnd checks that the device holds an end of data (a zero
// record header) at log position end, the end of the synced log: a scan
// must stop there after any crash. Bytes past the end that an earlier
// recovery cut off must have been zeroed durably, or they could be read
// as records once new appends end just before them.
func checkDurableEnd(fs *simfs.FS, end uint64, m *model) {
	names, err := fs.List()
	if err != nil {
		m.violate("list: %v", err)
		return
	}
	var last string
	var base uint64
	for _, n := range names {
		if b, ok := segment.ParseFileName(n); ok && b <= end && (last == "" || b > base) {
			last, base = n, b
		}
	}
	img, ok := fs.Durable(last)
	if !ok {
		m.violate("the segment %q holding the log end %d is not durable", last, end)
		return
	}
	off := int64(end-base) + segment.HeaderSize
	if off+segment.RecordHeaderSize > int64(len(img)) {
		return // the end is the segment's end
	}
	if !segment.IsEnd(img[off:]) {
		m.violate("the device holds no end of data at the synced log end %d (%s offset %d): a later scan reads on into old bytes", end, last, off)
	}
}
