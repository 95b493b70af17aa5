package engine

import (
	"sync"
	"sync/atomic"
)

// nameTable interns the stream IDs and event types that log reads
// (ReadAll, Subscribe) hand out as strings, so that a scan allocates once
// per distinct name, not once per event. One table serves every reader of
// the store: a hundred subscribers each keeping its own map of ten thousand
// stream IDs do not fit in the CPU caches, and every delivered event then
// paid a cache miss (S2 in spool bench spent over a third of its CPU
// there).
//
// Lookups read an immutable snapshot map without locking. Names not in it
// go to a small map under a mutex, which is merged into a new snapshot
// once it holds a quarter as many names as the snapshot (so copying stays
// amortised O(1) per name). Past maxNames the table stops growing and
// further new names are simply allocated.
type nameTable struct {
	snap atomic.Pointer[map[string]string]

	mu      sync.Mutex
	pending map[string]string
}

const maxNames = 1 << 16

func (t *nameTable) get(b []byte) string {
	if m := t.snap.Load(); m != nil {
		if s, ok := (*m)[string(b)]; ok {
			return s
		}
	}
	return t.miss(b)
}

func (t *nameTable) miss(b []byte) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.pending[string(b)]; ok {
		return s
	}
	s := string(b)
	old := t.snap.Load()
	n := len(t.pending)
	if old != nil {
		n += len(*old)
	}
	if n >= maxNames {
		return s
	}
	if t.pending == nil {
		t.pending = make(map[string]string)
	}
	t.pending[s] = s
	if old == nil || len(t.pending) > len(*old)/4+16 {
		merged := make(map[string]string, n+1)
		if old != nil {
			for k, v := range *old {
				merged[k] = v
			}
		}
		for k, v := range t.pending {
			merged[k] = v
		}
		t.snap.Store(&merged)
		t.pending = nil
	}
	return s
}

// lastName remembers the last name a reader (of the log or of a stream)
// took from a nameTable. Event types repeat from one event to the next far
// more often than not, and so do stream IDs within a batch: comparing with
// the last one costs less than the table's map lookup.
type lastName struct{ s string }

func (l *lastName) get(t *nameTable, b []byte) string {
	if string(b) != l.s {
		l.s = t.get(b)
	}
	return l.s
}
