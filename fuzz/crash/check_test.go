package crash

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/spooldb/spool/engine"
)

// tally counts what the checks of recovered stores found.
type tally struct {
	states  int
	acked   int // acknowledged events checked
	lost    int // acknowledged events missing or misplaced that were promised to survive
	corrupt int // events returned that were never issued, rejected, duplicated or differ
	dropped int // acknowledged events missing that no Sync or Close had promised (allowed)
	// promised counts acknowledged events that had to survive; injected
	// and injectedRecovery, states where an injected failure struck in
	// the workload and in the recovery after the crash.
	promised, injected, injectedRecovery int
}

func (t *tally) add(o tally) {
	t.states += o.states
	t.acked += o.acked
	t.lost += o.lost
	t.corrupt += o.corrupt
	t.dropped += o.dropped
	t.promised += o.promised
	t.injected += o.injected
	t.injectedRecovery += o.injectedRecovery
}

// logEntry is one event of a recovered log, as compared across recoveries.
type logEntry struct {
	id       [16]byte
	stream   string
	version  int64
	position uint64
}

// readLog reads the whole log.
func readLog(s *engine.Store) ([]engine.RecordedEvent, error) { return readLogFrom(s, 0) }

// readLogFrom reads the log from position from on.
func readLogFrom(s *engine.Store, from uint64) ([]engine.RecordedEvent, error) {
	var out []engine.RecordedEvent
	for e, err := range s.ReadAll(from) {
		if err != nil {
			return out, fmt.Errorf("ReadAll after %d events: %w", len(out), err)
		}
		out = append(out, e.Clone())
	}
	return out, nil
}

func entries(log []engine.RecordedEvent) []logEntry {
	out := make([]logEntry, len(log))
	for i, e := range log {
		out[i] = logEntry{e.ID, e.Stream, e.Version, e.Position}
	}
	return out
}

// check compares a recovered store with the model and returns its log.
// Problems are reported through m.violate; the tally counts events.
func (m *model) check(s *engine.Store) ([]logEntry, tally) {
	var t tally
	log, err := readLog(s)
	if err != nil {
		m.violate("%v", err)
	}
	ids := m.index()
	rejected := make(map[[16]byte]bool, len(m.rejected))
	for _, id := range m.rejected {
		rejected[id] = true
	}
	seen := make(map[[16]byte]bool, len(log))
	byStream := make(map[string][]engine.RecordedEvent)
	var prev uint64
	for i, e := range log {
		if i > 0 && e.Position <= prev {
			m.violate("ReadAll: event %d at position %d after %d", i, e.Position, prev)
		}
		prev = e.Position
		is, ok := ids[e.ID]
		switch {
		case rejected[e.ID]:
			t.corrupt++
			m.violate("ReadAll: event of a rejected append returned (stream %s version %d)", e.Stream, e.Version)
			continue
		case !ok:
			t.corrupt++
			m.violate("ReadAll: unissued event returned (stream %q version %d position %d)", e.Stream, e.Version, e.Position)
			continue
		case seen[e.ID]:
			t.corrupt++
			m.violate("ReadAll: event returned twice (stream %s version %d)", e.Stream, e.Version)
			continue
		case e.Stream != is.s.name || e.Type != is.ev.Type || !bytes.Equal(e.Data, is.ev.Data) || !bytes.Equal(e.Metadata, is.ev.Metadata):
			t.corrupt++
			m.violate("ReadAll: event of stream %s version %d differs from what was appended", is.s.name, e.Version)
			continue
		}
		seen[e.ID] = true
		byStream[e.Stream] = append(byStream[e.Stream], e)
	}
	for _, st := range m.streams {
		t.acked += m.checkStream(s, st, byStream[st.name], &t)
	}
	if len(log) > 2 {
		// From a position in the middle: the rest of the log.
		mid := len(log) / 2
		rest, err := readLogFrom(s, log[mid].Position)
		if err != nil || !slices.Equal(entries(rest), entries(log[mid:])) {
			m.violate("ReadAll from position %d (%d events, %v) differs from the rest of the log (%d events)", log[mid].Position, len(rest), err, len(log)-mid)
		}
	}
	for _, st := range m.deleted {
		t.acked += m.checkDeleted(s, st, byStream[st.name], &t)
	}
	m.checkPrefix(seen)
	return entries(log), t
}

// checkStream checks one stream's recovered events (in log order) against
// its issued batches, and against ReadStream. It returns the number of
// acknowledged events it checked.
func (m *model) checkStream(s *engine.Store, st *stream, got []engine.RecordedEvent, t *tally) int {
	ackedN := 0
	k := 0 // index into got
	for bi, b := range st.batches {
		if b.status == acked {
			ackedN += len(b.events)
		}
		if m.mustSurvive(b) {
			t.promised += len(b.events)
		}
		present := 0
		for i := range b.events {
			if k+i < len(got) && got[k+i].ID == b.events[i].ID {
				present++
			}
		}
		switch {
		case present == len(b.events):
			if b.status == acked && got[k].Position != b.res.Position {
				t.lost += len(b.events)
				m.violate("stream %s: acknowledged batch %d at position %d, recovered at %d", st.name, bi, b.res.Position, got[k].Position)
			}
			k += len(b.events)
		case present > 0:
			t.corrupt += present
			m.violate("stream %s: batch %d recovered in part (%d of %d events)", st.name, bi, present, len(b.events))
			k += present
		case m.mustSurvive(b):
			t.lost += len(b.events)
			m.violate("stream %s: acknowledged batch %d (versions %d-%d, position %d, acknowledgement %d, %d promised) lost",
				st.name, bi, b.res.FirstVersion, b.res.LastVersion, b.res.Position, b.seq, m.promised.Load())
		case b.status == acked:
			t.dropped += len(b.events)
		}
	}
	if k < len(got) {
		t.corrupt += len(got) - k
		m.violate("stream %s: %d events recovered out of issue order", st.name, len(got)-k)
	}
	for i, e := range got {
		if e.Version != int64(i) {
			m.violate("stream %s: event %d of the log has version %d", st.name, i, e.Version)
			break
		}
	}

	want := make([]logEntry, len(got))
	for i, e := range got {
		want[i] = logEntry{e.ID, e.Stream, e.Version, e.Position}
	}
	fwd, err := readStream(s, st.name, engine.Forward)
	if err != nil || !slices.Equal(fwd, want) {
		m.violate("stream %s: ReadStream forward (%d events, %v) differs from ReadAll (%d events)", st.name, len(fwd), err, len(want))
	}
	back, err := readStream(s, st.name, engine.Backward)
	slices.Reverse(back)
	if err != nil || !slices.Equal(back, want) {
		m.violate("stream %s: ReadStream backward (%d events, %v) differs from ReadAll (%d events)", st.name, len(back), err, len(want))
	}
	if v, err := s.StreamVersion(st.name); err != nil || v != int64(len(got))-1 {
		m.violate("stream %s: StreamVersion %d (%v), ReadAll has %d events", st.name, v, err, len(got))
	}
	if len(got) > 2 {
		// From the middle, both ways: the skip pointers' seek.
		mid := len(got) / 2
		if fwd, err := readStreamFrom(s, st.name, int64(mid), engine.Forward); err != nil || !slices.Equal(fwd, want[mid:]) {
			m.violate("stream %s: ReadStream forward from version %d (%d events, %v) differs from ReadAll (%d events)", st.name, mid, len(fwd), err, len(want)-mid)
		}
		back, err := readStreamFrom(s, st.name, int64(mid), engine.Backward)
		slices.Reverse(back)
		if err != nil || !slices.Equal(back, want[:mid+1]) {
			m.violate("stream %s: ReadStream backward from version %d (%d events, %v) differs from ReadAll (%d events)", st.name, mid, len(back), err, mid+1)
		}
	}
	return ackedN
}

func readStream(s *engine.Store, name string, dir engine.Direction) ([]logEntry, error) {
	from := int64(0)
	if dir == engine.Backward {
		from = engine.End
	}
	return readStreamFrom(s, name, from, dir)
}

func readStreamFrom(s *engine.Store, name string, from int64, dir engine.Direction) ([]logEntry, error) {
	var out []logEntry
	for e, err := range s.ReadStream(name, from, dir) {
		if err != nil {
			return out, err
		}
		out = append(out, logEntry{e.ID, e.Stream, e.Version, e.Position})
	}
	return out, nil
}

// checkDeleted checks a stream of appends, deletes and MaxCount changes
// (recovered events got, in log order): what it reads as — its events, its
// version — must be what some prefix of its operations leaves that holds
// every operation promised to survive. Log order is issue order for one
// stream, and a crash cuts a suffix of the log. It returns the acknowledged
// events it checked.
func (m *model) checkDeleted(s *engine.Store, st *stream, got []engine.RecordedEvent, t *tally) int {
	need := 0
	for i, b := range st.batches {
		if m.mustSurvive(b) {
			need = i + 1
			t.promised += len(b.events)
		}
	}
	ids := func(events []engine.RecordedEvent) [][16]byte {
		var out [][16]byte
		for _, e := range events {
			out = append(out, e.ID)
		}
		return out
	}
	v, err := s.StreamVersion(st.name)
	tombstoned := errors.Is(err, engine.ErrStreamDeleted)
	if err != nil && !tombstoned {
		m.violate("stream %s: StreamVersion: %v", st.name, err)
		return 0
	}
	if tombstoned {
		// Only the prefix of every operation ends with the tombstone.
		if n := len(st.batches); n == 0 || !st.batches[n-1].tombstones {
			t.lost++
			m.violate("stream %s: reads as tombstoned, but no TombstoneStream was issued", st.name)
			return 0
		}
		if _, err := collectStream(s, st.name); !errors.Is(err, engine.ErrStreamDeleted) || len(got) > 0 {
			m.violate("stream %s: tombstoned, but ReadStream says %v and ReadAll returned %d of its events", st.name, err, len(got))
		}
		return 0
	}
	fwd, err := collectStream(s, st.name)
	if err != nil || !slices.Equal(ids(fwd), ids(got)) {
		m.violate("stream %s: ReadStream (%d events, %v) differs from ReadAll (%d events)", st.name, len(fwd), err, len(got))
	}
	for n := need; n <= len(st.batches); n++ {
		if n > 0 && st.batches[n-1].tombstones {
			continue // the stream would read as tombstoned
		}
		r := replayDeletes(st.batches[:n])
		if v == r.version() && slices.Equal(ids(got), r.visible()) {
			return len(r.visible())
		}
	}
	t.lost++
	m.violate("stream %s: reads as %d events at version %d, which no prefix of its %d operations holding the %d promised ones leaves",
		st.name, len(got), v, len(st.batches), need)
	return 0
}

func collectStream(s *engine.Store, name string) ([]engine.RecordedEvent, error) {
	var out []engine.RecordedEvent
	for e, err := range s.ReadStream(name, 0, engine.Forward) {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// deleteModel is what a stream of appends, deletes and MaxCount changes
// reads as, by the engine's rules: a delete raises TruncateBefore past the
// newest event and keeps MaxCount; a metadata change replaces MaxCount and
// keeps hidden what the old retention hid (its cutoff becomes the new
// TruncateBefore); versions go on across deletes.
type deleteModel struct {
	events         [][16]byte // every event, by version
	truncateBefore int64
	maxCount       int64
}

func replayDeletes(ops []*batch) *deleteModel {
	r := &deleteModel{}
	for _, b := range ops {
		last := int64(len(r.events)) - 1
		switch {
		case b.deletes:
			r.truncateBefore = max(r.truncateBefore, r.cutoff(), last+1)
		case b.setsMaxCount:
			cut := int64(0)
			if last >= 0 {
				cut = r.cutoff()
			}
			r.truncateBefore, r.maxCount = cut, b.maxCount
		default:
			for _, e := range b.events {
				r.events = append(r.events, e.ID)
			}
		}
	}
	return r
}

// cutoff is the lowest version readers see.
func (r *deleteModel) cutoff() int64 {
	cut := r.truncateBefore
	if r.maxCount > 0 {
		cut = max(cut, int64(len(r.events))-r.maxCount)
	}
	return cut
}

func (r *deleteModel) visible() [][16]byte {
	return r.events[min(r.cutoff(), int64(len(r.events))):]
}

// version is what StreamVersion returns.
func (r *deleteModel) version() int64 {
	if last := int64(len(r.events)) - 1; last >= r.truncateBefore {
		return last
	}
	return engine.NoStream
}
