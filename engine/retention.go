package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/segment"
)

// stampClock is the clock of record timestamps and of MaxAge, in unix
// nanoseconds; a variable so that tests can move time.
var stampClock = func() int64 { return time.Now().UnixNano() }

// readNow is the time readers measure MaxAge at: the clock, but not
// before the newest time a compaction measured MaxAge at (Store.measured).
// A clock that went back then never shows again what a compaction removed,
// which would leave reads of one stream disagreeing (a forward read stops
// at the removed record, the older ones it left in other segments would
// show). Appends' stamps do not move it: one clock reading far ahead would
// otherwise make every stream's readers measure MaxAge there.
func (s *Store) readNow() int64 { return max(stampClock(), s.measured.Load()) }

// streamMeta is what readers need of a stream that has system records:
// its retention, whether it is tombstoned, and its newest event version
// (for MaxCount). Streams without system records (almost all) have none
// and cost readers nothing.
type streamMeta struct {
	md         StreamMetadata
	tombstoned bool
	deleted    bool   // the newest system record is a DeleteStream, and no event followed it
	sys        uint64 // log position of the newest system record
	last       int64  // newest committed event version, NoStream if none
}

// cutoff is the lowest version readers may see of the stream when its
// newest event is last.
func (m *streamMeta) cutoff(last int64) int64 {
	c := m.md.TruncateBefore
	if m.md.MaxCount > 0 {
		c = max(c, last+1-m.md.MaxCount)
	}
	return c
}

// expired reports whether an event appended at time ts (unix ns) is past
// the stream's MaxAge at time now. An event stamped in the future (the
// clock went back) is not.
func (m *streamMeta) expired(ts, now int64) bool {
	return m.md.MaxAge > 0 && now-ts >= int64(m.md.MaxAge)
}

// shows reports whether readers see version v, appended at ts, at time
// now, given the stream's newest version last.
func (m *streamMeta) shows(v, ts, now, last int64) bool {
	return !m.tombstoned && v >= m.cutoff(last) && !m.expired(ts, now)
}

// ageCutoff returns the lowest version >= lo of the stream whose newest
// event is top that MaxAge does not hide at now (top.Version+1 when it
// hides them all). The writer's stamps never go back, so MaxAge hides a
// prefix of the stream, found by binary search: O(log n) seeks of O(log n)
// records each. top's fields must stay valid meanwhile.
func ageCutoff(src recordSource, stream string, top *segment.Record, lo int64, m *streamMeta, now int64) (int64, error) {
	if m.md.MaxAge <= 0 || lo > top.Version {
		return lo, nil
	}
	if m.expired(top.Timestamp, now) {
		return top.Version + 1, nil
	}
	hi := top.Version // not expired
	var r segment.Record
	for lo < hi {
		mid := lo + (hi-lo)/2
		r = *top
		err := seekVersion(src, stream, &r, mid)
		if _, removed := removedVersion(err); removed {
			lo = mid + 1 // compaction removed it: it had expired
			continue
		}
		if err != nil {
			return 0, err
		}
		if m.expired(r.Timestamp, now) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// metaTable holds the committed streamMeta of every stream that has one.
// It is rebuilt at Open from the index (the entries with an aux word) and
// changed by the committer as system records and later events of those
// streams commit, before readers can see them committed.
type metaTable struct {
	// n is the number of entries and damaged streams, read without the
	// lock: while it is zero, log readers skip the lookups altogether.
	n  atomic.Int64
	mu sync.RWMutex
	m  map[string]*streamMeta
	// damaged holds the streams whose newest system record did not
	// decode at Open, by fingerprint (the record held the stream's name),
	// with the corruption error. Their retention is unknown: every read,
	// append and log read that reaches one of them fails with that
	// error, rather than return events the lost record may have hidden.
	// Set at Open only; empty in a healthy store.
	damaged map[hashindex.Fingerprint]error
}

// has reports whether stream has an entry, or is damaged: whether it
// ever had a system record. Entries are never removed, and a system
// record's entry is made when it commits, before any compaction can act
// on it (Compact commits everything first): so a stream without one never
// lost records to compaction (see readStreamRecord).
func (t *metaTable) has(stream string) bool {
	_, ok, err := t.get(stream)
	return ok || err != nil
}

// get returns a copy of stream's entry, or the error of a damaged
// stream.
func (t *metaTable) get(stream string) (streamMeta, bool, error) {
	if t.n.Load() == 0 {
		return streamMeta{}, false, nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	m, ok := t.m[stream]
	if !ok {
		return streamMeta{}, false, t.damage(stream)
	}
	return *m, true, nil
}

// damage returns the error of stream if its system record is damaged,
// with the lock held. A healthy store pays one length check.
func (t *metaTable) damage(stream string) error {
	if len(t.damaged) == 0 {
		return nil
	}
	if err := t.damaged[hashindex.FingerprintString(stream)]; err != nil {
		return fmt.Errorf("stream %q: its newest system record is damaged, so its retention is unknown: %w", stream, err)
	}
	return nil
}

// damagedStreams returns the number of damaged streams and one's error.
func (t *metaTable) damagedStreams() (int, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, err := range t.damaged {
		return len(t.damaged), err
	}
	return 0, nil
}

// markDamaged records, at Open, that the stream with fingerprint fp lost
// its newest system record to err.
func (t *metaTable) markDamaged(fp hashindex.Fingerprint, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.damaged == nil {
		t.damaged = make(map[hashindex.Fingerprint]error)
	}
	t.damaged[fp] = err
	t.n.Add(1)
}

// put records stream's entry.
func (t *metaTable) put(stream string, m streamMeta) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]*streamMeta)
	}
	if old, ok := t.m[stream]; ok {
		*old = m
		return
	}
	t.m[stream] = &m
	t.n.Add(1)
}

// setLast records a committed event of stream, if it has an entry. The
// caller calls it only for streams whose index entry has an aux word, so
// appends to streams without metadata never take the write lock.
func (t *metaTable) setLast(stream string, last int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.m[stream]; ok {
		m.last, m.deleted = last, false
	}
}

// metaView is a log reader's access to the table: one read lock per
// chunk of decoded records rather than one per record (see
// logReader.retained), never held while the log is read or a Filter's
// Match (the caller's code) runs.
type metaView struct {
	s      *Store // for the time (readNow)
	t      *metaTable
	locked bool
	now    int64
}

// lock takes the read lock for a chunk, if the table has entries, and
// the time MaxAge is measured against.
func (v *metaView) lock() {
	if v.t.n.Load() > 0 {
		v.t.mu.RLock()
		v.locked = true
		v.now = v.s.readNow()
	}
}

func (v *metaView) unlock() {
	if v.locked {
		v.t.mu.RUnlock()
		v.locked = false
	}
}

// shows reports whether a log reader returns version v of stream, appended
// at ts; an error for a damaged stream. Called between lock and unlock.
func (v *metaView) shows(stream string, ver, ts int64) (bool, error) {
	if !v.locked {
		return true, nil
	}
	m, ok := v.t.m[stream]
	if !ok {
		err := v.t.damage(stream)
		return err == nil, err
	}
	return m.shows(ver, ts, v.now, m.last), nil
}

// loadMeta fills the metadata table from the index: every entry with an
// aux word names its stream's newest system record. A store without stream
// metadata has none, and the index says so without being scanned.
//
// A system record that fails its checks puts its stream into the damaged
// set instead of failing Open: the rest of the store stays usable, like a
// store with a damaged event, and only that stream reports the damage.
func (s *Store) loadMeta() error {
	if s.index.Annotated() == 0 {
		return nil
	}
	v := readView{s: s, walk: true}
	defer v.close()
	var r segment.Record
	for fp, e := range s.index.All() {
		if e.Aux == 0 {
			continue
		}
		m, err := loadSystemRecord(&v, fp, e, &r)
		if errors.Is(err, ErrCorrupt) {
			s.meta.markDamaged(fp, err)
			continue
		}
		if err != nil {
			return err
		}
		s.meta.put(string(r.Stream), m)
	}
	return nil
}

// loadSystemRecord reads the newest system record of the stream whose
// index entry is e, with fingerprint fp, into r, and returns the stream's
// metadata.
func loadSystemRecord(v *readView, fp hashindex.Fingerprint, e hashindex.Entry, r *segment.Record) (streamMeta, error) {
	pos := e.Aux - 1
	loc, err := v.locate(pos)
	if err != nil {
		return streamMeta{}, err
	}
	if _, err := segment.Decode(loc.data, loc.off, pos, r); err != nil {
		return streamMeta{}, segment.WithSegment(err, loc.name)
	}
	if hashindex.FingerprintOf(r.Stream) != fp {
		return streamMeta{}, &CorruptionError{Segment: loc.name, Offset: loc.off, Reason: fmt.Sprintf(
			"index entry names the system record at %d, which belongs to another stream (%q)", pos, r.Stream)}
	}
	md, err := decodeMetadata(r, loc.name, loc.off)
	if err != nil {
		return streamMeta{}, err
	}
	return streamMeta{
		md:         md,
		tombstoned: r.Flags&segment.FlagTombstone != 0,
		deleted:    r.Flags&segment.FlagDeleted != 0 && r.Version == e.Version+1,
		sys:        pos,
		last:       e.Version,
	}, nil
}
