package engine

import (
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
	// n is the number of entries, read without the lock: while it is
	// zero, log readers skip the lookups altogether.
	n  atomic.Int64
	mu sync.RWMutex
	m  map[string]*streamMeta
}

// has reports whether stream has an entry: whether it ever had a system
// record. Entries are never removed, and a system record's entry is made
// when it commits, before any compaction can act on it (Compact commits
// everything first): so a stream without one never lost records to
// compaction (see readStreamRecord).
func (t *metaTable) has(stream string) bool {
	_, ok := t.get(stream)
	return ok
}

// get returns a copy of stream's entry.
func (t *metaTable) get(stream string) (streamMeta, bool) {
	if t.n.Load() == 0 {
		return streamMeta{}, false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	m, ok := t.m[stream]
	if !ok {
		return streamMeta{}, false
	}
	return *m, true
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
		v.now = stampClock()
	}
}

func (v *metaView) unlock() {
	if v.locked {
		v.t.mu.RUnlock()
		v.locked = false
	}
}

// shows reports whether a log reader returns version v of stream, appended
// at ts. Called between lock and unlock.
func (v *metaView) shows(stream string, ver, ts int64) bool {
	if !v.locked {
		return true
	}
	m, ok := v.t.m[stream]
	return !ok || m.shows(ver, ts, v.now, m.last)
}

// loadMeta fills the metadata table from the index: every entry with an
// aux word names its stream's newest system record. A store without stream
// metadata has none, and the index says so without being scanned.
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
		pos := e.Aux - 1
		loc, err := v.locate(pos)
		if err != nil {
			return err
		}
		if _, err := segment.Decode(loc.data, loc.off, pos, &r); err != nil {
			return segment.WithSegment(err, loc.name)
		}
		if hashindex.FingerprintOf(r.Stream) != fp {
			return &CorruptionError{Segment: loc.name, Offset: loc.off, Reason: fmt.Sprintf(
				"index entry names the system record at %d, which belongs to another stream (%q)", pos, r.Stream)}
		}
		md, err := decodeMetadata(&r, loc.name, loc.off)
		if err != nil {
			return err
		}
		s.meta.put(string(r.Stream), streamMeta{
			md:         md,
			tombstoned: r.Flags&segment.FlagTombstone != 0,
			deleted:    r.Flags&segment.FlagDeleted != 0 && r.Version == e.Version+1,
			sys:        pos,
			last:       e.Version,
		})
	}
	return nil
}
