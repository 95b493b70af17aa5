package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooldb/spool/segment"
)

// The concurrent stress tests run every kind of caller at once on one
// store with 64 KiB segments, an 8-slot index and the smallest mapping
// cap (so segments roll, the index grows and mappings come and go all the
// time), in each write path: appenders with every expected version and
// retries (twin appends at once, late retries of old batches), stream
// operations (deletes, retention, tombstones), stream and log readers,
// Subscribe and SubscribeStream subscribers, Compact (with a Progress
// that calls back into the store), Sync and Stats. They check against a
// ledger of what was acknowledged: every acknowledged event readable
// where it was acknowledged, versions without gaps or doubles, reads that
// are snapshots, subscribers that see every event once and in order, only
// the errors a caller may get, no hang, no goroutine outliving Close, and
// the log again after a reopen. TestStressClose races Close (or a crash)
// against all of it. Off unless -stress.dur is set; .ci/run runs them
// under the race detector. A failure logs its seed (-stress.seed), which
// fixes the workers' choices but not the scheduling.

var (
	stressDur  = flag.Duration("stress.dur", 0, "run the concurrent stress test this long per mode (0: skip)")
	stressSeed = flag.Uint64("stress.seed", 0, "seed of the concurrent stress test (0: time)")
	stressMode = flag.Int("stress.mode", -1, "run only this mode (0 durable staged, 1 durable mapped, 2 interval, 3 nosync)")
)

const (
	nClean = 6
	nMessy = 6
)

func stressOpts(mode int) *Options {
	return &Options{
		Durability:     []Durability{SyncEachCommit, SyncEachCommit, SyncInterval, NoSync}[mode],
		MappedWrites:   mode == 1,
		SyncInterval:   5 * time.Millisecond,
		SegmentSize:    64 << 10,
		IndexSlots:     8,
		MaxMappedBytes: 128 << 10,
	}
}

// ack is an acknowledged event.
type ack struct {
	stream  string
	version int64
	pos     uint64
}

type ledger struct {
	mu   sync.Mutex
	byID map[[16]byte]ack
	// clean[i][v] is the ID at version v of clean-i (ack order may differ
	// from version order: zero IDs are holes still being acknowledged).
	clean [nClean]map[int64][16]byte
	top   [nClean]int64 // highest acknowledged version
	count int           // clean events acknowledged
	messy []uint64      // positions of acknowledged messy events
}

func newLedger() *ledger {
	l := &ledger{byID: map[[16]byte]ack{}}
	for i := range l.clean {
		l.clean[i] = map[int64][16]byte{}
		l.top[i] = -1
	}
	return l
}

func cleanIndex(stream string) int {
	var i int
	if _, err := fmt.Sscanf(stream, "clean-%d", &i); err != nil {
		return -1
	}
	return i
}

type stressT struct {
	t      *testing.T
	s      atomic.Pointer[Store]
	l      *ledger
	idSeq  atomic.Uint64
	errs   chan string
	closed atomic.Bool // Close was called: ErrClosed is allowed
	// cancelled: the workers' context ended, context.Canceled is allowed.
	cancelled atomic.Bool
	crashed   atomic.Bool // crashForTest: ErrFailed is allowed too
	// closedSeen counts the calls that got ErrClosed while Close raced.
	closedSeen atomic.Int64
	// opsGen[i] counts the starts and ends of stream ops on messy-i: a
	// retry across a delete is not one.
	opsGen [nMessy]atomic.Uint64
}

func (st *stressT) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	select {
	case st.errs <- msg:
	default:
	}
}

func (st *stressT) newEvent(rng *rand.Rand, stream string) Event {
	var e Event
	binary.LittleEndian.PutUint64(e.ID[:8], st.idSeq.Add(1))
	binary.LittleEndian.PutUint64(e.ID[8:], 0x5eed)
	e.Type = fmt.Sprintf("t%d", rng.IntN(3))
	n := rng.IntN(200)
	if rng.IntN(20) == 0 {
		n = 3000 + rng.IntN(8000)
	}
	e.Data = fmt.Appendf(nil, "%s|%x|", stream, e.ID)
	for range n {
		e.Data = append(e.Data, byte('a'+rng.IntN(26)))
	}
	if rng.IntN(4) == 0 {
		e.Metadata = []byte("{}")
	}
	return e
}

func recSize(stream string, e Event) uint64 {
	return uint64((segment.RecordHeaderSize + len(stream) + len(e.Type) + len(e.Metadata) + len(e.Data) + 7) &^ 7)
}

// checkBody verifies an event read back is self-consistent.
func (st *stressT) checkBody(what string, e RecordedEvent) bool {
	want := fmt.Appendf(nil, "%s|%x|", e.Stream, e.ID)
	if !bytes.HasPrefix(e.Data, want) {
		st.errorf("%s: %s/%d@%d: data %q does not match its stream and ID", what, e.Stream, e.Version, e.Position, e.Data[:min(len(e.Data), 60)])
		return false
	}
	if e.Next <= e.Position {
		st.errorf("%s: %s/%d@%d: next %d", what, e.Stream, e.Version, e.Position, e.Next)
		return false
	}
	st.l.mu.Lock()
	a, ok := st.l.byID[e.ID]
	st.l.mu.Unlock()
	if ok && (a.stream != e.Stream || a.version != e.Version || a.pos != e.Position) {
		st.errorf("%s: read %s/%d@%d, acknowledged as %s/%d@%d", what, e.Stream, e.Version, e.Position, a.stream, a.version, a.pos)
		return false
	}
	return true
}

// expected reports whether err is one a concurrent workload may get.
func (st *stressT) expectedErr(err error, tomb bool) bool {
	switch {
	case err == nil, errors.Is(err, ErrWrongExpectedVersion):
		return true
	case tomb && errors.Is(err, ErrStreamDeleted):
		return true
	case st.closed.Load() && errors.Is(err, ErrClosed):
		st.closedSeen.Add(1)
		return true
	case st.crashed.Load() && (errors.Is(err, ErrFailed) || errors.Is(err, errCrashed)):
		st.closedSeen.Add(1)
		return true
	case st.cancelled.Load() && errors.Is(err, context.Canceled):
		return true
	}
	return false
}

func (st *stressT) record(stream string, events []Event, res AppendResult) {
	st.l.mu.Lock()
	defer st.l.mu.Unlock()
	ci := cleanIndex(stream)
	pos := res.Position
	for i, e := range events {
		v := res.FirstVersion + int64(i)
		if old, ok := st.l.byID[e.ID]; ok {
			if old.stream != stream || old.version != v || old.pos != pos {
				st.errorf("retry of %x gave %s/%d@%d, first ack %s/%d@%d", e.ID, stream, v, pos, old.stream, old.version, old.pos)
			}
		} else {
			st.l.byID[e.ID] = ack{stream, v, pos}
			if ci < 0 {
				st.l.messy = append(st.l.messy, pos)
			}
			if ci >= 0 {
				if other, ok := st.l.clean[ci][v]; ok {
					st.errorf("%s version %d acknowledged twice: %x and %x", stream, v, other, e.ID)
				}
				st.l.clean[ci][v] = e.ID
				st.l.top[ci] = max(st.l.top[ci], v)
				st.l.count++
			}
		}
		pos += recSize(stream, e)
	}
	if res.LastVersion != res.FirstVersion+int64(len(events))-1 {
		st.errorf("append result %+v for %d events", res, len(events))
	}
}

func (st *stressT) tops() [nClean]int64 {
	st.l.mu.Lock()
	defer st.l.mu.Unlock()
	return st.l.top
}

// appender appends to clean and messy streams with every kind of
// expected version, and retries some appends.
type pastAppend struct {
	stream   string
	expected int64
	events   []Event
	res      AppendResult
}

func (st *stressT) appender(ctx context.Context, rng *rand.Rand) {
	s := st.s.Load()
	var past []pastAppend
	for ctx.Err() == nil {
		if len(past) > 0 && rng.IntN(8) == 0 {
			// A late retry of an old clean append: its events may lie in
			// compacted or unmapped segments now; it must be recognised.
			p := past[rng.IntN(len(past))]
			res, err := s.Append(ctx, p.stream, p.expected, p.events...)
			if err != nil {
				if !st.expectedErr(err, false) || errors.Is(err, ErrWrongExpectedVersion) {
					st.errorf("late retry Append(%s, %s): %v (first %+v)", p.stream, expectedString(p.expected), err, p.res)
				}
			} else if res != p.res {
				st.errorf("late retry Append(%s, %s) = %+v, first %+v", p.stream, expectedString(p.expected), res, p.res)
			}
			continue
		}
		var stream string
		clean := rng.IntN(3) > 0
		if clean {
			stream = fmt.Sprintf("clean-%d", rng.IntN(nClean)*rng.IntN(2)) // clean-0 half the time
		} else {
			stream = fmt.Sprintf("messy-%d", rng.IntN(nMessy)*rng.IntN(2))
		}
		n := 1 + rng.IntN(4)
		if rng.IntN(10) == 0 {
			n = 1 + rng.IntN(30)
		}
		events := make([]Event, n)
		for i := range events {
			events[i] = st.newEvent(rng, stream)
		}
		var gen0 uint64
		mi := -1
		if !clean {
			fmt.Sscanf(stream, "messy-%d", &mi)
			gen0 = st.opsGen[mi].Load()
		}
		var expected int64
		switch k := rng.IntN(10); {
		case k < 4:
			v, err := s.StreamVersion(stream)
			if err != nil {
				if !st.expectedErr(err, false) {
					st.errorf("StreamVersion(%s): %v", stream, err)
				}
				continue
			}
			expected = v
		case k < 6:
			expected = Any
		case k < 8:
			expected = NoStream
		default:
			expected = StreamExists
		}
		dup := (expected >= 0 || expected == NoStream) && rng.IntN(3) == 0
		var dupRes AppendResult
		var dupErr error
		dupDone := make(chan struct{})
		if dup {
			// The same append twice at once, as a client retrying while
			// its first attempt is still in flight.
			go func() {
				defer close(dupDone)
				dupRes, dupErr = s.Append(ctx, stream, expected, events...)
			}()
		} else {
			close(dupDone)
		}
		res, err := s.Append(ctx, stream, expected, events...)
		<-dupDone
		calm := clean || (gen0%2 == 0 && st.opsGen[mi].Load() == gen0)
		if dup && !st.closed.Load() && !st.cancelled.Load() && calm {
			if (err == nil) != (dupErr == nil) || res != dupRes {
				st.errorf("concurrent twin appends to %s at %s: %+v, %v and %+v, %v", stream, expectedString(expected), res, err, dupRes, dupErr)
			}
		}
		if err != nil {
			if !st.expectedErr(err, false) {
				st.errorf("Append(%s, %s): %v", stream, expectedString(expected), err)
			}
			continue
		}
		if dup && !clean {
			continue // perhaps written twice across a delete: IDs ambiguous
		}
		st.record(stream, events, res)
		if clean && (expected >= 0 || expected == NoStream) {
			past = append(past, pastAppend{stream, expected, events, res})
		}
		if clean {
			// Read your write.
			i := 0
			for e, err := range s.ReadStream(stream, res.FirstVersion, Forward) {
				if err != nil {
					if !st.expectedErr(err, false) {
						st.errorf("read back %s: %v", stream, err)
					}
					break
				}
				if e.ID != events[i].ID || e.Version != res.FirstVersion+int64(i) {
					st.errorf("read back %s from %d: event %d is %s/%d %x, want %x", stream, res.FirstVersion, i, e.Stream, e.Version, e.ID, events[i].ID)
					break
				}
				if i++; i == len(events) {
					break
				}
			}
			if i < len(events) && !st.closed.Load() {
				st.errorf("read back %s from %d: %d of %d events", stream, res.FirstVersion, i, len(events))
			}
		}
		// Idempotent retry.
		if (expected >= 0 || expected == NoStream) && rng.IntN(4) == 0 {
			if !clean {
				// A retry across a delete writes the events again: the
				// IDs are ambiguous from now on.
				st.l.mu.Lock()
				for _, e := range events {
					delete(st.l.byID, e.ID)
				}
				st.l.mu.Unlock()
			}
			res2, err := s.Append(ctx, stream, expected, events...)
			if !clean && (errors.Is(err, ErrWrongExpectedVersion) || gen0%2 == 1 || st.opsGen[mi].Load() != gen0) {
				continue // retention may have hidden them
			}
			if err != nil {
				if !st.expectedErr(err, false) || errors.Is(err, ErrWrongExpectedVersion) {
					st.errorf("retry Append(%s, %s): %v (first %+v)", stream, expectedString(expected), err, res)
				}
				continue
			}
			if res2 != res {
				st.errorf("retry Append(%s, %s) = %+v, first %+v", stream, expectedString(expected), res2, res)
			}
		}
	}
}

// streamOps deletes, tombstones and sets metadata of messy and tomb streams.
func (st *stressT) streamOps(ctx context.Context, rng *rand.Rand) {
	s := st.s.Load()
	tombs := 0
	for ctx.Err() == nil {
		mi := rng.IntN(nMessy)
		stream := fmt.Sprintf("messy-%d", mi)
		st.opsGen[mi].Add(1)
		var err error
		tomb := false
		switch k := rng.IntN(10); {
		case k < 4:
			md := StreamMetadata{}
			if rng.IntN(2) == 0 {
				md.MaxCount = int64(1 + rng.IntN(20))
			}
			if rng.IntN(2) == 0 {
				v, _ := s.StreamVersion(stream)
				md.TruncateBefore = max(0, v-int64(rng.IntN(10)))
			}
			err = s.SetStreamMetadata(ctx, stream, md)
		case k < 8:
			expected := []int64{Any, NoStream, StreamExists, 0}[rng.IntN(4)]
			if expected == 0 {
				expected, _ = s.StreamVersion(stream)
			}
			err = s.DeleteStream(ctx, stream, expected)
		default:
			// Tombstone a stream with some events, then check it stays dead.
			stream = fmt.Sprintf("tomb-%d-%d", rng.Uint32(), tombs)
			tombs++
			tomb = true
			if _, err := s.Append(ctx, stream, NoStream, st.newEvent(rng, stream), st.newEvent(rng, stream)); err != nil {
				st.opsGen[mi].Add(1)
				if !st.expectedErr(err, false) {
					st.errorf("Append(%s): %v", stream, err)
				}
				continue
			}
			err = s.TombstoneStream(ctx, stream, []int64{Any, 1, StreamExists}[rng.IntN(3)])
			if err == nil {
				if _, err := s.Append(ctx, stream, Any, st.newEvent(rng, stream)); !errors.Is(err, ErrStreamDeleted) && !st.expectedErr(err, false) {
					st.errorf("append after tombstone of %s: %v", stream, err)
				}
				if _, err := collectErr(s.ReadStream(stream, 0, Forward)); !errors.Is(err, ErrStreamDeleted) && !st.expectedErr(err, false) {
					st.errorf("read after tombstone of %s: %v", stream, err)
				}
			}
		}
		st.opsGen[mi].Add(1)
		if !st.expectedErr(err, tomb) {
			st.errorf("stream op on %s: %v", stream, err)
		}
		time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
	}
}

// streamReader reads streams from random versions in both directions.
func (st *stressT) streamReads(ctx context.Context, rng *rand.Rand) {
	s := st.s.Load()
	for ctx.Err() == nil {
		clean := rng.IntN(3) > 0
		var stream string
		ci := -1
		if clean {
			ci = rng.IntN(nClean)
			stream = fmt.Sprintf("clean-%d", ci)
		} else {
			stream = fmt.Sprintf("messy-%d", rng.IntN(nMessy))
		}
		var before int64 = -1
		if clean {
			before = st.tops()[ci]
		}
		dir := Direction(rng.IntN(2))
		from := int64(0)
		if before > 0 {
			from = rng.Int64N(before + 2)
		}
		if dir == Backward && rng.IntN(2) == 0 {
			from = End
		}
		limit := 1 << 30
		if rng.IntN(4) == 0 {
			limit = rng.IntN(10)
		}
		var prev RecordedEvent
		n := 0
		var cap uint64
		what := fmt.Sprintf("ReadStream(%s, %d, %v)", stream, from, dir)
		for e, err := range s.ReadStream(stream, from, dir) {
			if err != nil {
				if !st.expectedErr(err, false) {
					st.errorf("%s: %v", what, err)
				}
				break
			}
			if n == 0 {
				cap = s.committed.Load()
			}
			if e.Stream != stream {
				st.errorf("%s: got stream %s", what, e.Stream)
			}
			if e.Next > cap {
				st.errorf("%s: event %s/%d@%d ends past the committed position %d at the read's first event", what, e.Stream, e.Version, e.Position, cap)
			}
			st.checkBody(what, e)
			if n == 0 {
				switch {
				case dir == Forward && clean && e.Version != from:
					st.errorf("%s: first version %d", what, e.Version)
				case dir == Forward && !clean && e.Version < from:
					st.errorf("%s: first version %d", what, e.Version)
				case dir == Backward && from != End && e.Version > from:
					st.errorf("%s: first version %d", what, e.Version)
				case dir == Backward && clean && from != End && e.Version != from && from <= before:
					st.errorf("%s: first version %d, acknowledged %d before", what, e.Version, before)
				case dir == Backward && clean && from == End && e.Version < before:
					st.errorf("%s: first version %d, acknowledged %d before", what, e.Version, before)
				}
			} else {
				step := int64(1)
				if dir == Backward {
					step = -1
				}
				// A messy stream's forward read goes on past what a
				// retention change and a compaction removed meanwhile.
				if e.Version != prev.Version+step && (clean || dir == Backward || e.Version < prev.Version) {
					st.errorf("%s: version %d after %d", what, e.Version, prev.Version)
				}
				if (e.Position > prev.Position) != (dir == Forward) {
					st.errorf("%s: position %d after %d", what, e.Position, prev.Position)
				}
			}
			prev = e
			n++
			if n >= limit {
				break
			}
		}
		if clean && limit == 1<<30 && !st.closed.Load() {
			switch {
			case dir == Forward && from <= before && (n == 0 || prev.Version < before):
				st.errorf("%s: ended at %d after %d events, acknowledged %d before", what, prev.Version, n, before)
			case dir == Backward && before >= 0 && (n == 0 || prev.Version != 0):
				st.errorf("%s: ended at %d after %d events (acknowledged %d before)", what, prev.Version, n, before)
			}
		}
	}
}

// logReads reads the whole log, filtered or not, from 0 or an
// acknowledged position.
func (st *stressT) logReads(ctx context.Context, rng *rand.Rand) {
	s := st.s.Load()
	for ctx.Err() == nil {
		before := st.tops()
		var from uint64
		fromVersion := [nClean]int64{}
		if rng.IntN(2) == 0 {
			st.l.mu.Lock()
			ci := rng.IntN(nClean)
			if top := st.l.top[ci]; top >= 0 {
				v := rng.Int64N(top + 1)
				if id, ok := st.l.clean[ci][v]; ok {
					from = st.l.byID[id].pos
				}
			}
			st.l.mu.Unlock()
		}
		fromMessy := false
		if from == 0 && rng.IntN(3) == 0 {
			// A messy event's position: retention and compaction may
			// have removed it, and the read then starts at the next kept.
			st.l.mu.Lock()
			if len(st.l.messy) > 0 {
				from = st.l.messy[rng.IntN(len(st.l.messy))]
				fromMessy = true
			}
			st.l.mu.Unlock()
		}
		filtered := rng.IntN(2) == 0
		var seq func(func(RecordedEvent, error) bool)
		if filtered {
			f := &Filter{StreamPrefix: "clean-"}
			if rng.IntN(3) == 0 {
				f.Types = []string{"t0", "t1", "t2"}
			}
			seq = s.ReadAllFiltered(from, f)
		} else {
			seq = s.ReadAll(from)
		}
		what := fmt.Sprintf("ReadAll(%d, filtered %v)", from, filtered)
		last := [nClean]int64{-1, -1, -1, -1, -1, -1}
		var prev RecordedEvent
		n := 0
		var cap uint64
		limit := 1 << 30
		if rng.IntN(4) == 0 {
			limit = rng.IntN(50)
		}
		for e, err := range seq {
			if err != nil {
				if !st.expectedErr(err, false) {
					st.errorf("%s: %v", what, err)
				}
				break
			}
			if n == 0 {
				cap = s.committed.Load()
				if from != 0 && (e.Position < from || (!fromMessy && e.Position != from)) {
					st.errorf("%s: first event at %d", what, e.Position)
				}
			} else if e.Position < prev.Next {
				st.errorf("%s: position %d after %d..%d", what, e.Position, prev.Position, prev.Next)
			}
			if e.Next > cap {
				st.errorf("%s: event %s/%d@%d ends past the committed position %d at the read's first event", what, e.Stream, e.Version, e.Position, cap)
			}
			if filtered && !strings.HasPrefix(e.Stream, "clean-") {
				st.errorf("%s: filter passed %s", what, e.Stream)
			}
			st.checkBody(what, e)
			if ci := cleanIndex(e.Stream); ci >= 0 {
				if last[ci] == -1 && from == 0 && e.Version != 0 {
					st.errorf("%s: first event of %s is version %d", what, e.Stream, e.Version)
				}
				if last[ci] != -1 && e.Version != last[ci]+1 {
					st.errorf("%s: %s version %d after %d", what, e.Stream, e.Version, last[ci])
				}
				if last[ci] == -1 {
					fromVersion[ci] = e.Version
				}
				last[ci] = e.Version
			}
			prev = e
			n++
			if n >= limit {
				break
			}
		}
		if limit == 1<<30 && !st.closed.Load() {
			for ci := range nClean {
				if from == 0 && last[ci] < before[ci] {
					st.errorf("%s: clean-%d read to version %d, %d acknowledged before the read", what, ci, last[ci], before[ci])
				}
				_ = fromVersion
			}
		}
	}
}

// subscriber follows the log from 0 or a position, filtered or not,
// and checks exactly-once in-order delivery. It returns what it saw of
// the clean streams.
func (st *stressT) subscriber(ctx context.Context, rng *rand.Rand, seen *atomic.Int64, filtered, fromMid bool) {
	s := st.s.Load()
	var opts *SubscribeOptions
	if filtered {
		opts = &SubscribeOptions{Filter: &Filter{StreamPrefix: "clean-"}}
	}
	what := fmt.Sprintf("Subscribe(filtered %v)", filtered)
	last := [nClean]int64{-1, -1, -1, -1, -1, -1}
	var prev RecordedEvent
	n := 0
	var from uint64
	first := [nClean]bool{}
	if fromMid {
		// Wait for some clean event and start there.
		for ctx.Err() == nil {
			st.l.mu.Lock()
			id, ok := st.l.clean[0][0]
			if ok {
				from = st.l.byID[id].pos
			}
			st.l.mu.Unlock()
			if ok {
				break
			}
			time.Sleep(time.Millisecond)
		}
		last[0] = -1
		what += fmt.Sprintf(" from %d", from)
	}
	for e, err := range s.Subscribe(ctx, from, opts) {
		if err != nil {
			if !st.expectedErr(err, false) {
				st.errorf("%s: %v", what, err)
			}
			return
		}
		if n > 0 && e.Position < prev.Next {
			st.errorf("%s: position %d after %d..%d", what, e.Position, prev.Position, prev.Next)
		}
		if filtered && !strings.HasPrefix(e.Stream, "clean-") {
			st.errorf("%s: filter passed %s", what, e.Stream)
		}
		st.checkBody(what, e)
		if ci := cleanIndex(e.Stream); ci >= 0 {
			if fromMid && !first[ci] {
				first[ci] = true
				last[ci] = e.Version - 1
				if ci == 0 && e.Version != 0 {
					st.errorf("%s: first event of clean-0 is version %d", what, e.Version)
				}
			}
			if e.Version != last[ci]+1 {
				st.errorf("%s: %s version %d after %d", what, e.Stream, e.Version, last[ci])
			}
			last[ci] = e.Version
			seen.Add(1)
		}
		if n == 0 && fromMid && e.Position != from {
			st.errorf("%s: first event at %d", what, e.Position)
		}
		prev = e
		n++
		if rng.IntN(1000) == 0 {
			time.Sleep(time.Millisecond) // lag
		}
	}
}

// streamSubscriber follows one clean stream from a version.
func (st *stressT) streamSubscriber(ctx context.Context, rng *rand.Rand, ci int, seen *atomic.Int64) {
	s := st.s.Load()
	stream := fmt.Sprintf("clean-%d", ci)
	from := int64(rng.IntN(5))
	what := fmt.Sprintf("SubscribeStream(%s, %d)", stream, from)
	next := from
	for e, err := range s.SubscribeStream(ctx, stream, from) {
		if err != nil {
			if !st.expectedErr(err, false) {
				st.errorf("%s: %v", what, err)
			}
			return
		}
		if e.Version != next {
			st.errorf("%s: version %d, want %d", what, e.Version, next)
		}
		st.checkBody(what, e)
		next = e.Version + 1
		seen.Store(next)
	}
}

func (st *stressT) misc(ctx context.Context, rng *rand.Rand) {
	s := st.s.Load()
	for ctx.Err() == nil {
		switch rng.IntN(4) {
		case 0:
			if err := s.Sync(); !st.expectedErr(err, false) {
				st.errorf("Sync: %v", err)
			}
		case 1:
			_ = s.Stats()
		case 2:
			stream := fmt.Sprintf("messy-%d", rng.IntN(nMessy))
			if _, err := s.StreamMetadata(stream); !st.expectedErr(err, false) {
				st.errorf("StreamMetadata: %v", err)
			}
		case 3:
			ci := rng.IntN(nClean)
			before := st.tops()[ci]
			v, err := s.StreamVersion(fmt.Sprintf("clean-%d", ci))
			if !st.expectedErr(err, false) {
				st.errorf("StreamVersion: %v", err)
			}
			if err == nil && v < before {
				st.errorf("StreamVersion(clean-%d) = %d, %d acknowledged before", ci, v, before)
			}
		}
		time.Sleep(time.Duration(rng.IntN(2)) * time.Millisecond)
	}
}

func (st *stressT) compactor(ctx context.Context, rng *rand.Rand) {
	s := st.s.Load()
	for ctx.Err() == nil {
		opts := &CompactOptions{MinDeadRatio: []float64{0.01, 0.2, 0.6}[rng.IntN(3)], BytesPerSecond: -1}
		if rng.IntN(2) == 0 {
			opts.Progress = func(CompactProgress) {
				_ = s.Stats()
				if _, err := s.StreamVersion("clean-1"); !st.expectedErr(err, false) {
					st.errorf("StreamVersion in Progress: %v", err)
				}
				for _, err := range s.ReadStream("messy-1", End, Backward) {
					if !st.expectedErr(err, false) {
						st.errorf("ReadStream in Progress: %v", err)
					}
					break
				}
			}
		}
		if _, err := s.Compact(ctx, opts); err != nil && !st.expectedErr(err, false) {
			st.errorf("Compact: %v", err)
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	}
}

func (st *stressT) drainErrs() {
	st.t.Helper()
	n := 0
	for {
		select {
		case msg := <-st.errs:
			if n < 30 {
				st.t.Error(msg)
			}
			n++
		default:
			if n > 0 {
				st.t.Fatalf("%d errors", n)
			}
			return
		}
	}
}

// verifyAll checks the whole store against the ledger.
func (st *stressT) verifyAll(s *Store) {
	st.l.mu.Lock()
	defer st.l.mu.Unlock()
	seen := map[[16]byte]bool{}
	var prev RecordedEvent
	for e, err := range s.ReadAll(0) {
		if err != nil {
			st.errorf("final ReadAll: %v", err)
			break
		}
		if prev.Next != 0 && e.Position < prev.Next {
			st.errorf("final ReadAll: position %d after %d", e.Position, prev.Next)
		}
		if !bytes.HasPrefix(e.Data, fmt.Appendf(nil, "%s|%x|", e.Stream, e.ID)) {
			st.errorf("final ReadAll: bad data at %d", e.Position)
		}
		if a, ok := st.l.byID[e.ID]; ok && (a.stream != e.Stream || a.version != e.Version || a.pos != e.Position) {
			st.errorf("final ReadAll: %s/%d@%d acknowledged as %+v", e.Stream, e.Version, e.Position, a)
		}
		if seen[e.ID] {
			st.errorf("final ReadAll: %x twice", e.ID)
		}
		seen[e.ID] = true
		prev = e
	}
	for ci := range nClean {
		stream := fmt.Sprintf("clean-%d", ci)
		var got []RecordedEvent
		for e, err := range s.ReadStream(stream, 0, Forward) {
			if err != nil {
				st.errorf("final read %s: %v", stream, err)
				break
			}
			got = append(got, e.Clone())
		}
		for v := int64(0); v <= st.l.top[ci]; v++ {
			id, ok := st.l.clean[ci][v]
			if !ok {
				// Not acknowledged (an append cut by Close): may be there.
				continue
			}
			if v >= int64(len(got)) || got[v].ID != id {
				st.errorf("final %s: version %d missing or different (have %d events)", stream, v, len(got))
				break
			}
			if !seen[id] {
				st.errorf("final ReadAll misses %s/%d", stream, v)
			}
		}
	}
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func TestStressConcurrent(t *testing.T) {
	if *stressDur == 0 {
		t.Skip("-stress.dur not set")
	}
	for mode := range 4 {
		if *stressMode >= 0 && mode != *stressMode {
			continue
		}
		t.Run(fmt.Sprint(mode), func(t *testing.T) { runStress(t, mode, *stressDur, false, false) })
	}
}

func TestStressClose(t *testing.T) {
	if *stressDur == 0 {
		t.Skip("-stress.dur not set")
	}
	deadline := time.Now().Add(*stressDur)
	for i := 0; time.Now().Before(deadline); i++ {
		mode := i % 4
		if *stressMode >= 0 {
			mode = *stressMode
		}
		runStress(t, mode, time.Duration(50+rand.IntN(500))*time.Millisecond, true, i%3 == 2)
		if t.Failed() {
			return
		}
	}
}

func runStress(t *testing.T, mode int, dur time.Duration, closeRace, crash bool) {
	seed := *stressSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	dir := t.TempDir()
	opts := stressOpts(mode)
	t.Logf("mode %d seed %d %v closeRace %v crash %v", mode, seed, opts, closeRace, crash)
	baseG := runtime.NumGoroutine()
	s := openT(t, dir, opts)
	st := &stressT{t: t, l: newLedger(), errs: make(chan string, 100)}
	st.s.Store(s)
	ctx, cancel := context.WithCancel(context.Background())
	subCtx, subCancel := context.WithCancel(context.Background())
	var wg, subWG sync.WaitGroup
	run := func(w *sync.WaitGroup, i uint64, f func(*rand.Rand)) {
		w.Add(1)
		go func() {
			defer w.Done()
			f(rand.New(rand.NewPCG(seed, i)))
		}()
	}
	var id uint64
	next := func() uint64 { id++; return id }
	for range 4 {
		run(&wg, next(), func(r *rand.Rand) { st.appender(ctx, r) })
	}
	run(&wg, next(), func(r *rand.Rand) { st.streamOps(ctx, r) })
	for range 2 {
		run(&wg, next(), func(r *rand.Rand) { st.streamReads(ctx, r) })
	}
	for range 2 {
		run(&wg, next(), func(r *rand.Rand) { st.logReads(ctx, r) })
	}
	run(&wg, next(), func(r *rand.Rand) { st.misc(ctx, r) })
	run(&wg, next(), func(r *rand.Rand) { st.compactor(ctx, r) })
	var subSeen [2]atomic.Int64
	run(&subWG, next(), func(r *rand.Rand) { st.subscriber(subCtx, r, &subSeen[0], true, false) })
	run(&subWG, next(), func(r *rand.Rand) { st.subscriber(subCtx, r, &subSeen[1], false, false) })
	var midSeen [2]atomic.Int64
	run(&subWG, next(), func(r *rand.Rand) { st.subscriber(subCtx, r, &midSeen[0], true, true) })
	run(&subWG, next(), func(r *rand.Rand) { st.subscriber(subCtx, r, &midSeen[1], false, true) })
	var streamSeen [nClean]atomic.Int64
	for ci := range nClean {
		run(&subWG, next(), func(r *rand.Rand) { st.streamSubscriber(subCtx, r, ci, &streamSeen[ci]) })
	}
	for mi := range 2 {
		run(&subWG, next(), func(r *rand.Rand) { st.messySubscriber(subCtx, mi) })
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	time.Sleep(dur)
	if closeRace {
		st.closed.Store(true)
		st.crashed.Store(crash)
		cerr := make(chan error, 1)
		if crash {
			go func() { s.crashForTest(); cerr <- nil }()
		} else {
			go func() { cerr <- s.Close() }()
		}
		select {
		case err := <-cerr:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("Close hangs:\n%s", goroutineDump())
		}
		// Everything called now must say ErrClosed.
		for _, err := range []error{
			func() error { _, err := s.Append(bg, "clean-0", Any, ev("x")); return err }(),
			func() error { _, err := s.StreamVersion("clean-0"); return err }(),
			func() error { _, err := collectErr(s.ReadStream("clean-0", 0, Forward)); return err }(),
			func() error { _, err := collectErr(s.ReadAll(0)); return err }(),
			func() error { _, err := collectErr(s.Subscribe(bg, 0, nil)); return err }(),
			func() error { _, err := collectErr(s.SubscribeStream(bg, "clean-0", 0)); return err }(),
			s.Sync(),
			s.DeleteStream(bg, "messy-0", Any),
			s.SetStreamMetadata(bg, "messy-0", StreamMetadata{}),
			func() error { _, err := s.Compact(bg, nil); return err }(),
			s.Close(),
		} {
			if !errors.Is(err, ErrClosed) && !(crash && (errors.Is(err, ErrFailed) || errors.Is(err, errCrashed))) {
				t.Errorf("call after Close: %v, want ErrClosed", err)
			}
		}
	}
	st.cancelled.Store(true)
	cancel()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("workers hang:\n%s", goroutineDump())
	}
	if !closeRace {
		// Subscribers catch up with every acknowledged clean event.
		st.l.mu.Lock()
		want := int64(st.l.count)
		tops := st.l.top
		st.l.mu.Unlock()
		deadline := time.Now().Add(30 * time.Second)
		for subSeen[0].Load() < want || subSeen[1].Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("subscribers saw %d and %d of %d clean events:\n%s", subSeen[0].Load(), subSeen[1].Load(), want, goroutineDump())
			}
			time.Sleep(10 * time.Millisecond)
		}
		for ci := range nClean {
			for tops[ci] >= 0 && streamSeen[ci].Load() < tops[ci]+1 {
				if time.Now().After(deadline) {
					t.Fatalf("stream subscriber %d at %d, top %d:\n%s", ci, streamSeen[ci].Load(), tops[ci], goroutineDump())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if subSeen[0].Load() != want || subSeen[1].Load() != want {
			t.Errorf("subscribers saw %d and %d clean events, %d acknowledged", subSeen[0].Load(), subSeen[1].Load(), want)
		}
		st.verifyAll(s)
	}
	st.cancelled.Store(true)
	subCancel()
	subDone := make(chan struct{})
	go func() { subWG.Wait(); close(subDone) }()
	select {
	case <-subDone:
	case <-time.After(30 * time.Second):
		t.Fatalf("subscribers hang after cancel:\n%s", goroutineDump())
	}
	if !closeRace {
		stats := s.Stats()
		t.Logf("stats: appends %d events %d rolls %d segments %d growths %d maps %d unmaps %d compactions %d compacted %d", stats.Appends, stats.Events, stats.SegmentRolls, stats.Segments, stats.IndexGrowths, stats.SegmentMaps, stats.SegmentUnmaps, stats.Compactions, stats.CompactedSegments)
		closeT(t, s)
	}
	if closeRace {
		t.Logf("calls that got ErrClosed during or after Close: %d", st.closedSeen.Load())
	}
	st.drainErrs()
	// No goroutine outlives Close.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseG {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before Open:\n%s", runtime.NumGoroutine(), baseG, goroutineDump())
		}
		time.Sleep(10 * time.Millisecond)
	}
	s = openT(t, dir, opts)
	if !s.Recovered().Clean && !crash {
		t.Errorf("reopen after Close not clean: %+v", s.Recovered())
	}
	st.verifyAll(s)
	closeT(t, s)
	st.drainErrs()
	if t.Failed() {
		t.Logf("seed %d", seed)
	}
}

// messySubscriber follows a messy stream: deletes, retention and revivals
// hide events, but versions only ever go up.
func (st *stressT) messySubscriber(ctx context.Context, mi int) {
	s := st.s.Load()
	stream := fmt.Sprintf("messy-%d", mi)
	what := fmt.Sprintf("SubscribeStream(%s, 0)", stream)
	last := int64(-1)
	for e, err := range s.SubscribeStream(ctx, stream, 0) {
		if err != nil {
			if !st.expectedErr(err, false) {
				st.errorf("%s: %v", what, err)
			}
			return
		}
		if e.Stream != stream || e.Version <= last {
			st.errorf("%s: %s/%d after %d", what, e.Stream, e.Version, last)
		}
		st.checkBody(what, e)
		last = e.Version
	}
}
