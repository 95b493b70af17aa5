package engine

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spooldb/spool/segment"
)

var (
	modelSeed = flag.Uint64("model.seed", 0, "run the model test with this seed only")
	modelOps  = flag.Int("model.ops", 1500, "operations per model test run")
)

// model is what the store must contain: every acknowledged event, per
// stream and in log order, and what retention hides of them.
type model struct {
	streams map[string][]RecordedEvent
	log     []RecordedEvent // in position order
	batches map[string][]Event
	meta    map[string]StreamMetadata
	tomb    map[string]bool
	known   map[string]bool // streams with any record: the index's entries
	// hidden, when set, hides more than deletes, tombstones, MaxCount and
	// TruncateBefore do (the MaxAge model's clock).
	hidden func(RecordedEvent) bool
	// stamps, when set, holds every event's stamp, per stream by version,
	// and reads are checked against it.
	stamps map[string][]int64
}

func newModel() *model {
	return &model{
		streams: map[string][]RecordedEvent{}, batches: map[string][]Event{},
		meta: map[string]StreamMetadata{}, tomb: map[string]bool{}, known: map[string]bool{},
	}
}

func (m *model) version(stream string) int64 { return int64(len(m.streams[stream])) - 1 }

// visibleVersion is what StreamVersion returns.
func (m *model) visibleVersion(stream string) int64 {
	if v := m.version(stream); v >= m.meta[stream].TruncateBefore {
		return v
	}
	return NoStream
}

// shows reports whether readers see e.
func (m *model) shows(e RecordedEvent) bool {
	return m.retains(e) && (m.hidden == nil || !m.hidden(e))
}

// retains reports whether deletes, tombstones, MaxCount and
// TruncateBefore leave e to readers.
func (m *model) retains(e RecordedEvent) bool {
	if m.tomb[e.Stream] {
		return false
	}
	return e.Version >= m.cutoff(e.Stream)
}

// cutoff is the lowest version of stream readers see.
func (m *model) cutoff(stream string) int64 {
	md, last := m.meta[stream], m.version(stream)
	cut := md.TruncateBefore
	if md.MaxCount > 0 {
		cut = max(cut, last+1-md.MaxCount)
	}
	return cut
}

// visible returns the events of stream readers see, oldest first.
func (m *model) visible(stream string) []RecordedEvent {
	var out []RecordedEvent
	for _, e := range m.streams[stream] {
		if m.shows(e) {
			out = append(out, e)
		}
	}
	return out
}

// TestModel runs random workloads against the store and an in-memory
// model: appends with every kind of expected version (right, wrong,
// retried), deletes, tombstones and retention changes, batch and event
// sizes from empty to segment-filling, stream and log reads from random
// places, compactions, clean reopens and crashes, over small segments and
// a tiny index so that rolls and index growth happen often.
func TestModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	if *modelSeed != 0 {
		seeds = []uint64{*modelSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, *modelOps)
		})
	}
}

func runModel(t *testing.T, seed uint64, ops int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dir := t.TempDir()
	// Seeds 1 to 4 cover every write path: staged and mapped durable
	// appends, interval and no sync.
	opts := &Options{
		Durability:   []Durability{SyncEachCommit, SyncEachCommit, SyncInterval, NoSync}[(seed-1)%4],
		MappedWrites: (seed-1)%4 == 1,
		SegmentSize:  64 << 10,
		IndexSlots:   16,
	}
	t.Logf("seed %d: %v (replay with -run TestModel -model.seed %d)", seed, opts, seed)
	s := openT(t, dir, opts)
	defer func() { _ = s.Close() }()
	m := newModel()
	nStreams := 2 + rng.IntN(40)
	written := false // since the last open
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: "+format, append([]any{seed}, args...)...)
	}

	for op := range ops {
		switch p := rng.IntN(100); {
		case p < 71:
			written = modelAppend(t, rng, s, m, nStreams, fail) || written
		case p < 75:
			written = modelStreamOp(rng, s, m, nStreams, fail) || written
		case p < 87:
			stream := fmt.Sprintf("stream-%d", rng.IntN(nStreams))
			checkStream(t, rng, s, m, stream, fail)
		case p < 94:
			checkLog(t, rng, s, m, fail)
		case p < 95:
			// Compaction changes nothing readers see.
			ratio := []float64{0.01, 0.3, 0.8}[rng.IntN(3)]
			if _, err := s.Compact(bg, &CompactOptions{MinDeadRatio: ratio}); err != nil {
				fail("op %d: Compact: %v", op, err)
			}
			written = true // a checkpoint, maybe an append-free roll
		case p < 98:
			closeT(t, s)
			s = openT(t, dir, opts)
			if !s.Recovered().Clean {
				fail("op %d: reopen after Close was not clean: %+v", op, s.Recovered())
			}
			written = false
		default:
			s.crashForTest()
			s = openT(t, dir, opts)
			if s.Recovered().Clean == written {
				fail("op %d: reopen after a crash: %+v (appended since open: %v)", op, s.Recovered(), written)
			}
			written = false
		}
	}
	for stream := range m.streams {
		checkStreamAll(t, s, m, stream, fail)
	}
	var want []RecordedEvent
	for _, e := range m.log {
		if m.shows(e) {
			want = append(want, e)
		}
	}
	compareEvents(collect(t, s.ReadAll(0)), want, "ReadAll", fail)
	if st := s.Stats(); st.Streams != len(m.known) {
		fail("Stats().Streams = %d, model %d", st.Streams, len(m.known))
	}
}

func randomEvent(rng *rand.Rand, maxData int) Event {
	var n int
	switch p := rng.IntN(100); {
	case p < 70:
		n = rng.IntN(300)
	case p < 95:
		n = 4000 + rng.IntN(200) // straddles pages
	default:
		n = rng.IntN(maxData + 1)
	}
	e := Event{Type: fmt.Sprintf("type-%d", rng.IntN(3)), Data: make([]byte, n)}
	for i := range e.Data {
		e.Data[i] = byte(rng.Uint32())
	}
	if rng.IntN(4) == 0 {
		e.Metadata = []byte(fmt.Sprintf(`{"m":%d}`, rng.IntN(1000)))
	}
	if rng.IntN(3) > 0 {
		for i := range e.ID {
			e.ID[i] = byte(rng.Uint32())
		}
	}
	return e
}

// modelAppend runs one random append and reports whether it wrote events.
func modelAppend(t *testing.T, rng *rand.Rand, s *Store, m *model, nStreams int, fail func(string, ...any)) bool {
	stream := fmt.Sprintf("stream-%d", rng.IntN(nStreams))
	limit := int(maxBatchBytes(s.opts.SegmentSize))
	if m.tomb[stream] {
		if _, err := s.Append(bg, stream, Any, ev("x")); !errors.Is(err, ErrStreamDeleted) {
			fail("append to tombstoned %s: %v", stream, err)
		}
		return false
	}

	// A retry of the stream's last append, as a client would after a timeout.
	if last := m.batches[stream]; len(last) > 0 && rng.IntN(10) == 0 {
		m.retryLast(s, stream, fail)
		return false
	}

	n := 1 + rng.IntN(5)
	if rng.IntN(10) == 0 {
		n = 1 + rng.IntN(50)
	}
	events := make([]Event, n)
	size := 0
	for i := range events {
		events[i] = randomEvent(rng, limit/n-len(stream)-200)
		size += (104 + len(stream) + len(events[i].Type) + len(events[i].Metadata) + len(events[i].Data) + 7) &^ 7
	}
	if size > limit {
		return false
	}
	expected, ok := m.randomExpected(rng, stream)
	res, written := m.appendChecked(s, stream, expected, ok, events, fail)
	if written {
		m.record(stream, res.Position, events, 0)
	}
	return written
}

// appendChecked appends events to stream expecting expected (ok: whether
// that matches the model) and checks the outcome against the model. It
// reports whether the events were written, and where.
func (m *model) appendChecked(s *Store, stream string, expected int64, ok bool, events []Event, fail func(string, ...any)) (AppendResult, bool) {
	cur := m.version(stream)
	res, err := s.Append(bg, stream, expected, events...)
	if !ok {
		var we *WrongExpectedVersionError
		if !errors.As(err, &we) || we.Actual != m.visibleVersion(stream) {
			fail("append to %s expecting %d at %d: want wrong version, got %v", stream, expected, cur, err)
		}
		return res, false
	}
	if err != nil {
		fail("append to %s expecting %d at %d: %v", stream, expected, cur, err)
	}
	if res.FirstVersion != cur+1 || res.LastVersion != cur+int64(len(events)) {
		fail("append result %+v at version %d", res, cur)
	}
	if len(m.log) > 0 && res.Position <= m.log[len(m.log)-1].Position {
		fail("position %d not after %d", res.Position, m.log[len(m.log)-1].Position)
	}
	return res, true
}

// retryLast retries the last append to stream, which must be recognised
// and write nothing.
func (m *model) retryLast(s *Store, stream string, fail func(string, ...any)) {
	last, cur := m.batches[stream], m.version(stream)
	expected := cur - int64(len(last))
	res, err := s.Append(bg, stream, expected, last...)
	hasIDs := true
	for _, e := range last {
		hasIDs = hasIDs && e.ID != [16]byte{}
	}
	if !hasIDs {
		if !errors.Is(err, ErrWrongExpectedVersion) {
			fail("retry without IDs: %v", err)
		}
		return
	}
	// Once retention hid some of its events, compaction may have
	// removed them: then the retry is refused, and writes nothing.
	hidden := false
	for _, e := range m.streams[stream][expected+1:] {
		hidden = hidden || !m.shows(e)
	}
	if hidden && errors.Is(err, ErrWrongExpectedVersion) {
		return
	}
	if err != nil || res.LastVersion != cur || res.FirstVersion != expected+1 {
		fail("retry of %s at %d (hidden %v): %+v, %v", stream, expected, hidden, res, err)
	}
}

// record adds events, appended to stream at log position pos (stamped
// stamp, when the model keeps stamps), to the model.
func (m *model) record(stream string, pos uint64, events []Event, stamp int64) {
	for _, e := range events {
		re := RecordedEvent{Stream: stream, Version: m.version(stream) + 1, Position: pos, ID: e.ID, Type: e.Type, Data: e.Data, Metadata: e.Metadata}
		m.streams[stream] = append(m.streams[stream], re)
		if m.stamps != nil {
			m.stamps[stream] = append(m.stamps[stream], stamp)
		}
		m.log = append(m.log, re)
		pos += uint64((segment.RecordHeaderSize + len(stream) + len(e.Type) + len(e.Metadata) + len(e.Data) + 7) &^ 7)
	}
	m.batches[stream] = events
	m.known[stream] = true
}

// randomExpected picks an expected version for stream and says whether it
// matches.
func (m *model) randomExpected(rng *rand.Rand, stream string) (int64, bool) {
	cur, tb := m.version(stream), m.meta[stream].TruncateBefore
	switch k := rng.IntN(10); {
	case k < 4:
		// The version a deleted stream had matches no more.
		return cur, cur == NoStream || cur >= tb
	case k < 6:
		return Any, true
	case k < 7:
		return NoStream, cur < tb
	case k < 8:
		return StreamExists, cur >= max(tb, 0)
	default:
		return cur + 1 + int64(rng.IntN(3)), false
	}
}

// modelStreamOp runs a random DeleteStream, TombstoneStream or
// SetStreamMetadata and reports whether it wrote a record.
func modelStreamOp(rng *rand.Rand, s *Store, m *model, nStreams int, fail func(string, ...any)) bool {
	stream := fmt.Sprintf("stream-%d", rng.IntN(nStreams))
	cur := m.version(stream)
	expected, ok := m.randomExpected(rng, stream)
	var err error
	var md StreamMetadata
	op := rng.IntN(10)
	switch {
	case op < 5:
		md = StreamMetadata{TruncateBefore: m.meta[stream].TruncateBefore}
		if rng.IntN(2) == 0 {
			md.MaxCount = int64(1 + rng.IntN(6))
		}
		if rng.IntN(3) == 0 {
			md.TruncateBefore = int64(rng.IntN(int(cur) + 3))
		}
		if rng.IntN(3) == 0 {
			md.MaxAge = time.Hour // hides nothing here; round-trips
		}
		ok = true // no expected version
		err = s.SetStreamMetadata(bg, stream, md)
		if cur >= 0 {
			// What the old retention hid stays hidden.
			md.TruncateBefore = max(md.TruncateBefore, m.cutoff(stream))
		}
	case op < 9:
		md = m.meta[stream]
		md.TruncateBefore = max(md.TruncateBefore, cur+1)
		err = s.DeleteStream(bg, stream, expected)
	default:
		md = m.meta[stream]
		if cur >= 0 {
			md.TruncateBefore = max(md.TruncateBefore, m.cutoff(stream))
		}
		err = s.TombstoneStream(bg, stream, expected)
	}
	return m.settleStreamOp(s, streamOp{stream, op, op == 9, expected, ok, md}, err, fail)
}

// streamOp is a DeleteStream, TombstoneStream or SetStreamMetadata done:
// op names it in failures; ok says whether expected matched; md is the
// stream's metadata after it, if it succeeds.
type streamOp struct {
	stream    string
	op        int
	tombstone bool
	expected  int64
	ok        bool
	md        StreamMetadata
}

// settleStreamOp checks the outcome err of o against the model, records
// o in it when it succeeded, and reports whether it wrote a record.
func (m *model) settleStreamOp(s *Store, o streamOp, err error, fail func(string, ...any)) bool {
	stream := o.stream
	switch {
	case m.tomb[stream]:
		if !errors.Is(err, ErrStreamDeleted) {
			fail("op %d on tombstoned %s: %v", o.op, stream, err)
		}
		return false
	case !o.ok:
		var we *WrongExpectedVersionError
		if !errors.As(err, &we) || we.Actual != m.visibleVersion(stream) {
			fail("op %d on %s expecting %d at %d: want wrong version, got %v", o.op, stream, o.expected, m.version(stream), err)
		}
		return false
	case err != nil:
		fail("op %d on %s expecting %d: %v", o.op, stream, o.expected, err)
	}
	m.meta[stream] = o.md
	m.tomb[stream] = o.tombstone
	m.known[stream] = true
	delete(m.batches, stream) // a retry across a delete is not one
	if got, err := s.StreamMetadata(stream); got != o.md || (err != nil) != m.tomb[stream] {
		fail("StreamMetadata(%s) = %v, %v after op %d, want %v", stream, got, err, o.op, o.md)
	}
	return true
}

func checkStream(t *testing.T, rng *rand.Rand, s *Store, m *model, stream string, fail func(string, ...any)) {
	if m.tomb[stream] {
		if _, err := collectErr(s.ReadStream(stream, 0, Forward)); !errors.Is(err, ErrStreamDeleted) {
			fail("read of tombstoned %s: %v", stream, err)
		}
		return
	}
	want := m.visible(stream)
	n := m.version(stream) + 1
	if rng.IntN(2) == 0 {
		from := int64(rng.IntN(int(n) + 2))
		got := collect(t, s.ReadStream(stream, from, Forward))
		var exp []RecordedEvent
		for _, e := range want {
			if e.Version >= from {
				exp = append(exp, e)
			}
		}
		m.compare(got, exp, fmt.Sprintf("%s forward from %d", stream, from), fail)
		return
	}
	from := End
	if rng.IntN(2) == 0 {
		from = int64(rng.IntN(int(n) + 2))
	}
	got := collect(t, s.ReadStream(stream, from, Backward))
	var exp []RecordedEvent
	for i := len(want) - 1; i >= 0; i-- {
		if from == End || want[i].Version <= from {
			exp = append(exp, want[i])
		}
	}
	m.compare(got, exp, fmt.Sprintf("%s backward from %d", stream, from), fail)
	// Stopping early must be fine.
	for range s.ReadStream(stream, End, Backward) {
		break
	}
}

func checkStreamAll(t *testing.T, s *Store, m *model, stream string, fail func(string, ...any)) {
	v, err := s.StreamVersion(stream)
	if m.tomb[stream] {
		if !errors.Is(err, ErrStreamDeleted) {
			fail("StreamVersion(tombstoned %s): %v", stream, err)
		}
		return
	}
	m.compare(collect(t, s.ReadStream(stream, 0, Forward)), m.visible(stream), stream+" forward", fail)
	if err != nil || v != m.visibleVersion(stream) {
		fail("StreamVersion(%s) = %d, %v; model %d", stream, v, err, m.visibleVersion(stream))
	}
	if md, err := s.StreamMetadata(stream); err != nil || md != m.meta[stream] {
		fail("StreamMetadata(%s) = %v, %v; model %v", stream, md, err, m.meta[stream])
	}
}

func checkLog(t *testing.T, rng *rand.Rand, s *Store, m *model, fail func(string, ...any)) {
	if len(m.log) == 0 {
		return
	}
	i := rng.IntN(len(m.log))
	var want []RecordedEvent
	for _, e := range m.log[i:] {
		if m.shows(e) {
			want = append(want, e)
		}
	}
	k := 0
	for e, err := range s.ReadAll(m.log[i].Position) {
		if err != nil {
			fail("ReadAll from %d: %v", m.log[i].Position, err)
		}
		if k >= len(want) {
			fail("ReadAll returned more than the model shows")
		}
		if err := sameEvent(e, want[k]); err != nil {
			fail("ReadAll from %d, event %d: %v", m.log[i].Position, k, err)
		}
		k++
		if k > 200 {
			break
		}
	}
	if k < min(len(want), 200) {
		fail("ReadAll from %d returned %d events, the model shows %d", m.log[i].Position, k, len(want))
	}
	// Positions inside a record are refused (compaction may have removed
	// a hidden one: then any position in its place resumes the read).
	if _, err := collectErr(s.ReadAll(m.log[i].Position + 8)); m.shows(m.log[i]) && !errors.Is(err, ErrInvalidPosition) {
		if i+1 >= len(m.log) || m.log[i+1].Position != m.log[i].Position+8 {
			fail("ReadAll inside a record: %v", err)
		}
	}
}

// compare is compareEvents that also checks the events' stamps, when the
// model keeps them.
func (m *model) compare(got, want []RecordedEvent, what string, fail func(string, ...any)) {
	compareEvents(got, want, what, fail)
	if m.stamps == nil {
		return
	}
	for i, e := range got {
		if ts := m.stamps[e.Stream][e.Version]; e.Time.UnixNano() != ts {
			fail("%s: event %d (%s/%d) stamped %d, want %d", what, i, e.Stream, e.Version, e.Time.UnixNano(), ts)
		}
	}
}

func compareEvents(got, want []RecordedEvent, what string, fail func(string, ...any)) {
	if len(got) != len(want) {
		fail("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if err := sameEvent(got[i], want[i]); err != nil {
			fail("%s: event %d: %v", what, i, err)
		}
		if !bytes.Equal(got[i].Data, want[i].Data) {
			fail("%s: event %d data differs", what, i)
		}
	}
}
