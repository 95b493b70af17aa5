package crash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// workload is what the workers of one state do, drawn from its seed.
type workload struct {
	segSize   int64
	workers   int
	perWorker int // operations per worker per phase
	phases    int // clean reopens between phases: phases-1
	streams   int // per worker
	// compaction: the workers delete, append to deleted streams and
	// compact much more often (see worker.step).
	compaction bool
}

func (w workload) String() string {
	return fmt.Sprintf("segment=%dKiB workers=%d ops=%d phases=%d streams/worker=%d compaction=%v", w.segSize>>10, w.workers, w.perWorker, w.phases, w.streams, w.compaction)
}

var bg = context.Background()

// worker runs one worker's operations of a phase against s. Its streams
// are its own: nobody else appends to them.
type worker struct {
	id      int
	rng     *rand.Rand
	m       *model
	s       *engine.Store
	streams []*stream
	del     *stream // the worker's stream for appends and deletes
	w       workload
	n       int // events made so far
	// off reports that the power is cut: nothing runs after that. (In
	// NoSync mode appends touch no storage, so they would go on.)
	off func() bool
}

// run does ops operations and stops early at a store failure or a power
// cut.
func (wk *worker) run(ops int) {
	for range ops {
		if wk.off() || !wk.step() {
			return
		}
	}
}

// step does one operation; false when the worker must stop.
func (wk *worker) step() bool {
	st := wk.streams[wk.rng.IntN(len(wk.streams))]
	x := wk.rng.IntN(100)
	if wk.w.compaction {
		switch {
		case x < 35:
			return wk.appendTo(st)
		case x < 80:
			return wk.deleteOrAppend()
		case x < 85:
			return wk.setMetadata(st)
		case x < 92:
			return wk.compact()
		case x < 96:
			return wk.readStream(st)
		default:
			return wk.readAll()
		}
	}
	switch {
	case x < 72:
		return wk.appendTo(st)
	case x < 77:
		return wk.retry(st)
	case x < 88:
		return wk.readStream(st)
	case x < 93:
		return wk.readAll()
	case x < 96:
		return wk.deleteOrAppend()
	case x < 97:
		return wk.setMetadata(st)
	case x < 98:
		return wk.compact()
	default:
		return wk.sync()
	}
}

// sync calls Sync; when it returns nil, every append acknowledged before
// it began is promised to survive.
func (wk *worker) sync() bool {
	n := wk.m.acks.Load()
	if err := wk.s.Sync(); err != nil {
		return wk.failed("Sync", err)
	}
	wk.m.promise(n)
	return true
}

// failed handles an error of a call that fails only with the store.
func (wk *worker) failed(call string, err error) bool {
	if errors.Is(err, engine.ErrFailed) {
		wk.m.failed.Store(true)
		return false
	}
	wk.m.violate("worker %d: %s: unexpected error %v", wk.id, call, err)
	wk.m.failed.Store(true)
	return false
}

func (wk *worker) appendTo(st *stream) bool {
	events := wk.events(st.name)
	expected, wrong := wk.expected(st)
	b := &batch{events: events}
	wasFailed := wk.m.failed.Load()
	res, err := wk.s.Append(bg, st.name, expected, events...)
	switch {
	case err == nil && wrong:
		wk.m.violate("stream %s: append with wrong expected version %d (version %d) succeeded", st.name, expected, st.version)
		return false
	case err == nil:
		if wasFailed {
			wk.m.violate("stream %s: append acknowledged after the store failed", st.name)
		}
		if res.FirstVersion != st.version+1 || res.LastVersion != st.version+int64(len(events)) {
			wk.m.violate("stream %s: append at version %d returned versions %d-%d", st.name, st.version, res.FirstVersion, res.LastVersion)
		}
		wk.m.ack(b, res)
		st.batches = append(st.batches, b)
		st.version, st.last = res.LastVersion, b
		return true
	case errors.Is(err, engine.ErrWrongExpectedVersion):
		if !wrong {
			wk.m.violate("stream %s: append with expected %d at version %d: %v", st.name, expected, st.version, err)
		}
		b.status = rejected
		wk.m.reject(b)
		return true
	}
	b.status = maybe
	st.batches = append(st.batches, b)
	return wk.failed("Append", err)
}

// deleteOrAppend appends an event to the worker's delete stream, deletes
// it (soft), sets its MaxCount or, rarely, tombstones it: after recovery
// the stream must read as after some prefix of these operations that
// holds every promised one. A tombstoned stream takes no more writes.
func (wk *worker) deleteOrAppend() bool {
	st := wk.del
	if st.tombstoned {
		_, err := wk.s.Append(bg, st.name, engine.Any, wk.events(st.name)[:1]...)
		if err == nil {
			wk.m.violate("stream %s: append after TombstoneStream acknowledged", st.name)
			return false
		}
		if !errors.Is(err, engine.ErrStreamDeleted) {
			return wk.failed("Append", err)
		}
		return true
	}
	b := &batch{}
	var res engine.AppendResult
	var err error
	call := "DeleteStream"
	wasFailed := wk.m.failed.Load()
	switch x := wk.rng.IntN(40); {
	case x == 0:
		b.tombstones, call, st.tombstoned = true, "TombstoneStream", true
		err = wk.s.TombstoneStream(bg, st.name, engine.Any)
	case x < 10:
		b.setsMaxCount, b.maxCount, call = true, int64(wk.rng.IntN(4)), "SetStreamMetadata"
		err = wk.s.SetStreamMetadata(bg, st.name, engine.StreamMetadata{MaxCount: b.maxCount})
	case x < 30:
		b.events, call = wk.events(st.name)[:1], "Append"
		res, err = wk.s.Append(bg, st.name, engine.Any, b.events...)
	default:
		b.deletes = true
		err = wk.s.DeleteStream(bg, st.name, engine.Any)
	}
	st.batches = append(st.batches, b)
	if err != nil {
		b.status = maybe
		return wk.failed(call, err)
	}
	if wasFailed {
		wk.m.violate("stream %s: %s acknowledged after the store failed", st.name, call)
	}
	wk.m.ack(b, res)
	return true
}

// compact runs a compaction alongside the other workers. A failed storage
// operation may fail it without failing the store (its old segments stay
// as they were), or fail the store once its swap began.
func (wk *worker) compact() bool {
	_, err := wk.s.Compact(bg, &engine.CompactOptions{MinDeadRatio: []float64{0.001, 0.3}[wk.rng.IntN(2)]})
	switch {
	case err == nil:
		return true
	case errors.Is(err, engine.ErrFailed):
		return wk.failed("Compact", err)
	case errors.Is(err, simfs.ErrInjected) || errors.Is(err, simfs.ErrCrashed):
		return !wk.off()
	}
	return wk.failed("Compact", err)
}

// setMetadata gives a stream retention that hides nothing: a system
// record in its chain that recovery must get past.
func (wk *worker) setMetadata(st *stream) bool {
	md := engine.StreamMetadata{MaxAge: 24 * time.Hour, MaxCount: 1 << 40}
	if err := wk.s.SetStreamMetadata(bg, st.name, md); err != nil {
		return wk.failed("SetStreamMetadata", err)
	}
	return true
}

// retry appends the stream's last acknowledged batch again, with its
// expected version: the store must recognise it and write nothing.
func (wk *worker) retry(st *stream) bool {
	b := st.last
	if b == nil {
		return true
	}
	res, err := wk.s.Append(bg, st.name, b.res.FirstVersion-1, b.events...)
	if err != nil {
		return wk.failed("retried Append", err)
	}
	if res != b.res {
		wk.m.violate("stream %s: retried append returned %+v, the original %+v", st.name, res, b.res)
	}
	return true
}

// expected picks the expected version of an append, and whether it is
// wrong on purpose.
func (wk *worker) expected(st *stream) (int64, bool) {
	v := st.version
	switch x := wk.rng.IntN(100); {
	case x < 60:
		return v, false // NoStream when v == -1
	case x < 75:
		return engine.Any, false
	case x < 85:
		if v < 0 {
			return engine.NoStream, false
		}
		return engine.StreamExists, false
	case x < 92:
		return v + 1 + wk.rng.Int64N(3), true
	case v >= 0:
		if wk.rng.IntN(2) == 0 {
			return engine.NoStream, true
		}
		return v - 1, true
	}
	return engine.StreamExists, true
}

// events makes a batch of 1 to 5 events of varied sizes that fits a
// segment.
func (wk *worker) events(name string) []engine.Event {
	limit := wk.w.segSize - segment.HeaderSize
	n := 1
	if wk.rng.IntN(10) < 4 {
		n = 2 + wk.rng.IntN(4)
	}
	var evs []engine.Event
	var total int64
	for range n {
		ev := engine.Event{ID: eventID(wk.m.seed, wk.id, wk.n), Type: "t" + fmt.Sprint(wk.rng.IntN(3))}
		wk.n++
		if wk.rng.IntN(4) == 0 {
			ev.Metadata = wk.payload(wk.rng.IntN(40))
		}
		fixed := int64(segment.RecordHeaderSize + len(name) + len(ev.Type) + len(ev.Metadata))
		size := wk.dataSize(fixed, limit)
		ev.Data = wk.payload(int(size))
		need := (fixed + size + 7) &^ 7
		if total+need > limit {
			break
		}
		total += need
		evs = append(evs, ev)
	}
	if len(evs) == 0 { // the first event alone always fits
		ev := engine.Event{ID: eventID(wk.m.seed, wk.id, wk.n), Type: "t", Data: wk.payload(1)}
		wk.n++
		evs = append(evs, ev)
	}
	return evs
}

// dataSize draws an event body size: mostly small, some straddling page
// boundaries, some nearly or exactly filling a segment.
func (wk *worker) dataSize(fixed, limit int64) int64 {
	r := wk.rng
	switch x := r.IntN(100); {
	case x < 30:
		return r.Int64N(65)
	case x < 55:
		return 64 + r.Int64N(1000)
	case x < 72:
		return max(0, 4096-fixed-24+r.Int64N(48)) // one record about a page
	case x < 82:
		return max(0, 2*4096-fixed-24+r.Int64N(48))
	case x < 92:
		return 8<<10 + r.Int64N(12<<10)
	case x < 97:
		return max(0, limit-fixed-r.Int64N(200)) // nearly a whole segment
	}
	return max(0, (limit-fixed)&^7) // exactly fills a segment
}

// payload is n bytes that differ from every other payload of the state.
func (wk *worker) payload(n int) []byte {
	b := make([]byte, n)
	x := wk.rng.Uint64() | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// readStream checks that the stream reads back exactly its acknowledged
// events.
func (wk *worker) readStream(st *stream) bool {
	i, j := 0, 0 // batch, event in batch
	for e, err := range wk.s.ReadStream(st.name, 0, engine.Forward) {
		if err != nil {
			return wk.failed("ReadStream", err)
		}
		for i < len(st.batches) && j == len(st.batches[i].events) {
			i, j = i+1, 0
		}
		if i == len(st.batches) || st.batches[i].status != acked {
			wk.m.violate("stream %s: live read returned an event past the acknowledged ones (version %d)", st.name, e.Version)
			return false
		}
		want := &st.batches[i].events[j]
		if e.ID != want.ID || !bytes.Equal(e.Data, want.Data) || !bytes.Equal(e.Metadata, want.Metadata) {
			wk.m.violate("stream %s: live read returned a wrong event at version %d", st.name, e.Version)
			return false
		}
		j++
	}
	return true
}

// readAll scans the log; its content is checked after the crash.
func (wk *worker) readAll() bool {
	n := 0
	for _, err := range wk.s.ReadAll(0) {
		if err != nil {
			return wk.failed("ReadAll", err)
		}
		if n++; n > 200 && wk.rng.IntN(2) == 0 {
			break
		}
	}
	return true
}

// streamName names a worker's k-th stream; some names are long, so that
// records straddle pages at other offsets.
func streamName(worker, k int) string {
	name := fmt.Sprintf("w%d-s%d", worker, k)
	if k%3 == 2 {
		name += "-" + strings.Repeat("x", 100+7*k)
	}
	return name
}
