package crash

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/spooldb/spool/engine"
)

// mode is a state's durability setting, which decides what an
// acknowledgement promises after a power cut (engine.Durability):
//
//   - SyncEachCommit: every acknowledged append survives;
//   - SyncInterval and NoSync: an acknowledged append survives once a
//     Sync or a Close that began after it returned nil. Their msyncs on a
//     timer or at segment rolls promise nothing the caller can point to,
//     so the model counts on none of them. What survives beyond the
//     promise must still be a consistent log: a prefix, in log order, of
//     what was acknowledged, whole batches, contiguous versions.
type mode struct {
	durability engine.Durability
	mapped     bool          // SyncEachCommit: records stored through the mapping, not staged
	interval   time.Duration // SyncInterval: how often the store msyncs on its own (0: default)
}

func (md mode) String() string {
	switch {
	case md.durability == engine.SyncEachCommit && md.mapped:
		return "SyncEachCommit+mapped"
	case md.durability == engine.SyncInterval:
		return fmt.Sprintf("SyncInterval(%v)", md.interval)
	}
	return md.durability.String()
}

// label names the mode without its interval, for counting states by mode.
func (md mode) label() string {
	if md.durability == engine.SyncInterval {
		return md.durability.String()
	}
	return md.String()
}

// everyAck reports whether an acknowledgement alone promises survival.
func (md mode) everyAck() bool { return md.durability == engine.SyncEachCommit }

// modeStream is the PCG stream of a state's seed that draws its mode and
// what depends on it, apart from the draws of the SyncEachCommit states
// (stream 0x5eed), so that a seed that falls to SyncEachCommit makes the
// same state as before modes were drawn.
const modeStream = 0x30de

// drawMode draws the durability: half the states SyncEachCommit (mapped
// as drawn before), a quarter each SyncInterval and NoSync. SyncInterval
// runs with a timer short enough to fire inside a state, or the default.
func drawMode(r *rand.Rand, mapped bool) mode {
	switch r.IntN(4) {
	case 0:
		return mode{durability: engine.SyncInterval, interval: []time.Duration{200 * time.Microsecond, 2 * time.Millisecond, engine.DefaultSyncInterval}[r.IntN(3)]}
	case 1:
		return mode{durability: engine.NoSync}
	}
	return mode{durability: engine.SyncEachCommit, mapped: mapped}
}

// cutPoint draws where the power of a SyncInterval or NoSync state is
// cut: after a storage operation (a Sync, a roll, an open), right after
// an acknowledged append, or after the workload.
func cutPoint(r *rand.Rand, w workload) (freezeAt, cutAck int64) {
	ops := int64(w.workers * w.perWorker * w.phases)
	switch r.IntN(5) {
	case 0, 1:
		// Fewer storage operations per append than SyncEachCommit's three.
		return 1 + r.Int64N(ops/2+20*int64(w.phases)), 0
	case 2, 3:
		return 0, 1 + r.Int64N(ops)
	}
	return 0, 0
}
