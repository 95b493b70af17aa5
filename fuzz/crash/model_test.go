package crash

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/spooldb/spool/engine"
)

// status is what the workload knows of an append's outcome.
type status int

const (
	acked    status = iota // Append returned nil: must survive once promised (model.mustSurvive)
	maybe                  // Append failed with the store: may survive, whole
	rejected               // wrong expected version: must never appear
)

// batch is one issued Append.
type batch struct {
	events []engine.Event
	status status
	res    engine.AppendResult // when acked
	seq    int64               // when acked: the how-manieth acknowledgement of the state
	// deletes: a DeleteStream, not an append (events is empty).
	deletes bool
	// setsMaxCount: a SetStreamMetadata with MaxCount maxCount (0 for
	// none), not an append (events is empty).
	setsMaxCount bool
	maxCount     int64
	// tombstones: a TombstoneStream, not an append (events is empty); the
	// stream's last operation.
	tombstones bool
}

// stream is one stream of the model. Each is written by one worker only,
// so its issue order is that worker's order.
type stream struct {
	name    string
	batches []*batch // acked and maybe, in issue order
	version int64    // last acknowledged version, -1 for none
	last    *batch   // last acked batch, for retries
	// tombstoned: a TombstoneStream was issued; nothing is issued after it.
	tombstoned bool
}

// model records everything a state's workload issued.
type model struct {
	seed    uint64
	streams []*stream
	// deleted are the workers' streams for appends and deletes (see
	// worker.deleteOrAppend), checked by checkDeleted.
	deleted []*stream
	// failed is set once the store reported a write-path failure: no
	// Append started after that may be acknowledged.
	failed atomic.Bool
	// everyAck: each acknowledgement promises survival (SyncEachCommit).
	everyAck bool
	// acks counts acknowledged appends; promised is the highest count a
	// Sync or Close that returned nil had seen before it began: the
	// appends acknowledged up to there must survive in every mode.
	acks, promised atomic.Int64
	// onAck, when set, is called with each acknowledgement's count.
	onAck func(n int64)

	mu         sync.Mutex
	rejected   [][16]byte // IDs of rejected events
	violations []string
}

func (m *model) violate(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.violations) < 20 {
		m.violations = append(m.violations, fmt.Sprintf(format, args...))
	}
}

// ack records b as acknowledged.
func (m *model) ack(b *batch, res engine.AppendResult) {
	b.status, b.res = acked, res
	b.seq = m.acks.Add(1)
	if m.onAck != nil {
		m.onAck(b.seq)
	}
}

// promise records that a Sync or Close returned nil that began when n
// appends were acknowledged.
func (m *model) promise(n int64) {
	for {
		p := m.promised.Load()
		if n <= p || m.promised.CompareAndSwap(p, n) {
			return
		}
	}
}

// mustSurvive reports whether b must be there after a power cut.
func (m *model) mustSurvive(b *batch) bool {
	return b.status == acked && (m.everyAck || b.seq <= m.promised.Load())
}

func (m *model) reject(b *batch) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range b.events {
		m.rejected = append(m.rejected, e.ID)
	}
}

// eventID makes the ID of a worker's n-th event: unique in the state.
func eventID(seed uint64, worker, n int) [16]byte {
	var id [16]byte
	binary.LittleEndian.PutUint64(id[:8], seed)
	binary.LittleEndian.PutUint32(id[8:], uint32(worker)+1)
	binary.LittleEndian.PutUint32(id[12:], uint32(n)+1)
	return id
}

// issued is where an issued event sits in the model.
type issued struct {
	s   *stream
	b   *batch
	idx int // in the batch
	ev  *engine.Event
}

// index maps every acked or maybe event's ID to its place.
func (m *model) index() map[[16]byte]issued {
	ids := make(map[[16]byte]issued)
	for _, s := range slices.Concat(m.streams, m.deleted) {
		for _, b := range s.batches {
			for i := range b.events {
				ids[b.events[i].ID] = issued{s: s, b: b, idx: i, ev: &b.events[i]}
			}
		}
	}
	return ids
}
