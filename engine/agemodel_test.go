package engine

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var ageModelOps = flag.Int("agemodel.ops", 1200, "operations per MaxAge model test run")

// ageModel is model with MaxAge: a fake clock that only moves forward, the
// stamp of every event, and what MaxAge hides at the clock's time.
type ageModel struct {
	*model // its stamps and hidden are this model's
	clock  *int64
	// last is the store's time (Store.lastStamp): the newest stamp
	// given since Open, or time a compaction measured MaxAge at. The
	// clock may go back.
	last int64
	// compacted is the store's time at the newest compaction that wrote
	// a file (its creation time): Open starts the store's time there.
	compacted int64
	// measured is the newest time a compaction measured MaxAge at
	// (Store.measured): readers measure no earlier.
	measured int64
	// agedOut counts the events checks found hidden by MaxAge alone.
	agedOut int
}

// stamp is the stamp of what is written to stream now (stampLocked): the
// clock, but not below the newest stamp given since Open nor the stream's
// newest event's. It moves last, as stampLocked does.
func (m *ageModel) stamp(stream string) int64 {
	m.last = max(m.last, *m.clock)
	now := m.last
	if st := m.stamps[stream]; len(st) > 0 {
		now = max(now, st[len(st)-1])
	}
	return now
}

// expired reports whether MaxAge hides version v of stream now: readers
// measure at the clock, but not before a compaction measured (readNow).
func (m *ageModel) expired(stream string, v int64) bool {
	return m.expiredAt(stream, v, max(*m.clock, m.measured))
}

func (m *ageModel) expiredAt(stream string, v, now int64) bool {
	age := m.meta[stream].MaxAge
	return age > 0 && now-m.stamps[stream][v] >= int64(age)
}

// ageCutoff is the lowest version of stream its whole retention lets
// readers see at now: what SetStreamMetadata stamped now makes
// TruncateBefore at least.
func (m *ageModel) ageCutoff(stream string, now int64) int64 {
	c := m.cutoff(stream)
	for c <= m.version(stream) && m.expiredAt(stream, c, now) {
		c++
	}
	return c
}

func (m *ageModel) visibleLog(from int) []RecordedEvent {
	var out []RecordedEvent
	for _, e := range m.log[from:] {
		if m.shows(e) {
			out = append(out, e)
		}
	}
	return out
}

// TestModelMaxAge is TestModel for MaxAge: a fake clock advancing by random
// amounts (often not at all, often by one nanosecond, so that events share
// stamps and expire exactly at the boundary), streams with MaxAge alone and
// with MaxCount, TruncateBefore, deletes and revivals, MaxAge changed and
// removed, and every read kind checked against the model after each
// change, compaction, clean reopen and crash.
func TestModelMaxAge(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if *modelSeed != 0 {
		seeds = []uint64{*modelSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runAgeModel(t, seed, *ageModelOps)
		})
	}
}

func runAgeModel(t *testing.T, seed uint64, ops int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e9955bd1e995))
	clock := int64(1_750_000_000_000_000_000)
	useClock(t, &clock)
	dir := t.TempDir()
	opts := &Options{
		Durability:   []Durability{SyncEachCommit, SyncEachCommit, SyncInterval, NoSync}[(seed-1)%4],
		MappedWrites: (seed-1)%4 == 1,
		SegmentSize:  64 << 10,
		IndexSlots:   16,
	}
	// Odd groups of four seeds let the clock go back too, across reopens
	// and not: stamps must still never go back within a stream, and
	// readers measure MaxAge at the store's time (readNow), which a
	// compaction moves on, also across reopens.
	back := (seed-1)/4%2 == 1
	t.Logf("seed %d: %v, clock goes back: %v (replay with -run TestModelMaxAge -model.seed %d)", seed, opts, back, seed)
	s := openT(t, dir, opts)
	defer func() { _ = s.Close() }()
	m := &ageModel{model: newModel(), clock: &clock}
	m.model.stamps = map[string][]int64{}
	m.model.hidden = func(e RecordedEvent) bool { return m.expired(e.Stream, e.Version) }
	nStreams := 3 + rng.IntN(8)
	ages := []time.Duration{1, 2, 3, 5, 10, 40, 200, 1000, 5000}
	written := false
	dropped := 0
	var what string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, %s: "+format, append([]any{seed, what}, args...)...)
	}
	pick := func() string { return fmt.Sprintf("s-%d", rng.IntN(nStreams)) }

	for op := range ops {
		switch p := rng.IntN(100); {
		case p < 30:
		case p < 55:
			clock++
		case p < 85:
			clock += int64(rng.IntN(12))
		case p < 99:
			clock += int64(rng.IntN(300))
		default:
			clock += int64(time.Hour)
		}
		if back && rng.IntN(12) == 0 {
			clock -= int64(rng.IntN(400))
		}
		what = fmt.Sprintf("op %d at clock +%d", op, clock-1_750_000_000_000_000_000)
		changed := false
		switch p := rng.IntN(100); {
		case p < 60:
			stream := pick()
			what += " append to " + stream
			changed = ageAppend(rng, s, m, stream, fail)
			written = written || changed
		case p < 75:
			stream := pick()
			what += " stream op on " + stream
			changed = ageStreamOp(rng, s, m, stream, ages, fail)
			written = written || changed
		case p < 90:
			stream := pick()
			what += " check " + stream
			checkStream(t, rng, s, m.model, stream, fail)
		case p < 95:
			what += " check log"
			ageCheckLog(t, rng, s, m, fail)
		case p < 97:
			what += " compact"
			ratio := []float64{0.01, 0.3, 0.8}[rng.IntN(3)]
			rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: ratio, BytesPerSecond: -1})
			if err != nil {
				fail("Compact: %v", err)
			}
			if len(m.meta) > 0 { // some stream has retention: it measured
				m.last = max(m.last, clock)
				m.measured = max(m.measured, clock)
				if rep.Files > 0 {
					m.compacted = m.measured // the files' creation time
				}
			}
			dropped += rep.Dropped
			written, changed = true, true
		case p < 99:
			what += " reopen"
			closeT(t, s)
			s = openT(t, dir, opts)
			if !s.Recovered().Clean {
				fail("reopen after Close was not clean: %+v", s.Recovered())
			}
			written, changed, m.last, m.measured = false, true, m.compacted, m.compacted
		case p < 100:
			what += " crash"
			s.crashForTest()
			s = openT(t, dir, opts)
			written, changed, m.last, m.measured = false, true, m.compacted, m.compacted
		}
		if changed {
			// Every read kind of one stream, and the log from a random place.
			ageCheckAll(t, s, m, pick(), fail)
			ageCheckLog(t, rng, s, m, fail)
		}
	}
	what = "at the end"
	aged, shown := 0, 0
	for _, e := range m.log {
		if m.shows(e) {
			shown++
		} else if m.retains(e) {
			aged++
		}
	}
	t.Logf("checks met %d events hidden by age alone; at the end: events %d, shown %d, hidden by age only %d, compaction dropped %d, segments %d", m.agedOut, len(m.log), shown, aged, dropped, len(*s.segs.Load()))
	for stream := range m.streams {
		ageCheckAll(t, s, m, stream, fail)
	}
	m.compare(collect(t, s.ReadAll(0)), m.visibleLog(0), "ReadAll", fail)
	if _, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.01, BytesPerSecond: -1}); err != nil {
		fail("Compact: %v", err)
	}
	for stream := range m.streams {
		ageCheckAll(t, s, m, stream, fail)
	}
	m.compare(collect(t, s.ReadAll(0)), m.visibleLog(0), "ReadAll after Compact", fail)
}

// ageAppend runs one random append (or a retry) and reports whether it
// wrote events.
func ageAppend(rng *rand.Rand, s *Store, m *ageModel, stream string, fail func(string, ...any)) bool {
	if m.tomb[stream] {
		m.stamp(stream)
		if _, err := s.Append(bg, stream, Any, ev("x")); !errors.Is(err, ErrStreamDeleted) {
			fail("append to tombstoned %s: %v", stream, err)
		}
		return false
	}
	now := m.stamp(stream) // every append reaching the writer moves the store's stamp
	if last := m.batches[stream]; len(last) > 0 && rng.IntN(6) == 0 {
		m.retryLast(s, stream, fail)
		return false
	}
	n := 1 + rng.IntN(4)
	events := make([]Event, n)
	for i := range events {
		events[i] = randomEvent(rng, 2000)
		if len(events[i].Data) > 2000 {
			events[i].Data = events[i].Data[:2000]
		}
	}
	expected, ok := m.randomExpected(rng, stream)
	res, written := m.appendChecked(s, stream, expected, ok, events, fail)
	if written {
		m.record(stream, res.Position, events, now)
	}
	return written
}

// ageStreamOp runs a random SetStreamMetadata (most often one that sets,
// changes or removes MaxAge), DeleteStream or TombstoneStream.
func ageStreamOp(rng *rand.Rand, s *Store, m *ageModel, stream string, ages []time.Duration, fail func(string, ...any)) bool {
	cur := m.version(stream)
	expected, ok := m.randomExpected(rng, stream)
	var err error
	var md StreamMetadata
	// The writer stamps a system record once its expected version passed.
	prevLast := m.last
	now := m.stamp(stream)
	op := rng.IntN(20)
	if op == 19 && rng.IntN(5) > 0 {
		op = 0 // tombstones end a stream's story: few
	}
	switch {
	case op < 16:
		md = m.meta[stream]
		switch rng.IntN(4) {
		case 0, 1:
			md.MaxAge = ages[rng.IntN(len(ages))]
		case 2:
			md.MaxAge = 0
		}
		switch rng.IntN(4) {
		case 0:
			md.MaxCount = int64(1 + rng.IntN(6))
		case 1:
			md.MaxCount = 0
		}
		if rng.IntN(4) == 0 {
			md.TruncateBefore = int64(rng.IntN(int(cur) + 3))
		}
		ok = true
		err = s.SetStreamMetadata(bg, stream, md)
		if cur >= 0 {
			md.TruncateBefore = max(md.TruncateBefore, m.ageCutoff(stream, now))
		}
	case op < 19:
		md = m.meta[stream]
		md.TruncateBefore = max(md.TruncateBefore, cur+1)
		err = s.DeleteStream(bg, stream, expected)
	default:
		md = m.meta[stream]
		if cur >= 0 {
			md.TruncateBefore = max(md.TruncateBefore, m.ageCutoff(stream, now))
		}
		err = s.TombstoneStream(bg, stream, expected)
	}
	if m.tomb[stream] || !ok {
		m.last = prevLast
	}
	return m.settleStreamOp(s, streamOp{stream, op, op == 19, expected, ok, md}, err, fail)
}

// ageCheckAll checks every read of stream: forward and backward reads,
// StreamVersion, StreamMetadata, a SubscribeStream catching up, and that
// its visible version is what an expected-version check matches.
func ageCheckAll(t *testing.T, s *Store, m *ageModel, stream string, fail func(string, ...any)) {
	checkStreamAll(t, s, m.model, stream, fail)
	if m.tomb[stream] {
		return
	}
	for _, e := range m.streams[stream] {
		if m.retains(e) && !m.shows(e) {
			m.agedOut++
		}
	}
	want := m.visible(stream)
	var back []RecordedEvent
	for i := len(want) - 1; i >= 0; i-- {
		back = append(back, want[i])
	}
	m.compare(collect(t, s.ReadStream(stream, End, Backward)), back, stream+" backward", fail)
	if len(want) > 0 {
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		var got []RecordedEvent
		for e, err := range s.SubscribeStream(ctx, stream, 0) {
			if err != nil {
				cancel()
				fail("SubscribeStream(%s) after %d events: %v", stream, len(got), err)
			}
			got = append(got, e.Clone())
			if len(got) == len(want) {
				break
			}
		}
		cancel()
		m.compare(got, want, stream+" SubscribeStream", fail)
	}
}

// ageCheckLog reads the log with ReadAll from a random event, and with
// Subscribe from the same place, up to 200 events.
func ageCheckLog(t *testing.T, rng *rand.Rand, s *Store, m *ageModel, fail func(string, ...any)) {
	if len(m.log) == 0 {
		return
	}
	i := rng.IntN(len(m.log))
	from := m.log[i].Position
	want := m.visibleLog(i)
	got := collect(t, s.ReadAll(from))
	m.compare(got, want, fmt.Sprintf("ReadAll from %d", from), fail)
	if len(want) == 0 {
		return
	}
	want = want[:min(len(want), 200)]
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	got = got[:0]
	for e, err := range s.Subscribe(ctx, from, nil) {
		if err != nil {
			fail("Subscribe from %d after %d events: %v", from, len(got), err)
		}
		got = append(got, e.Clone())
		if len(got) == len(want) {
			break
		}
	}
	m.compare(got, want, fmt.Sprintf("Subscribe from %d", from), fail)
}
