package crash

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/spooldb/spool/mmapfile/simfs"
)

// fault makes the nth call of op fail (simfs.FailNth): ENOSPC for Create,
// Rename and WriteAt, EIO for the others.
type fault struct {
	op  simfs.Op
	nth int64
}

// faults are a state's injected failures, at most one per operation.
type faults []fault

func (ff faults) String() string {
	if len(ff) == 0 {
		return "faults=none"
	}
	var b strings.Builder
	b.WriteString("faults=")
	for i, f := range ff {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%v#%d", f.op, f.nth)
	}
	return b.String()
}

func (ff faults) has(op simfs.Op) bool {
	for _, f := range ff {
		if f.op == op {
			return true
		}
	}
	return false
}

// arm makes fs fail as ff say.
func (ff faults) arm(fs *simfs.FS) {
	for _, f := range ff {
		fs.FailNth(f.op, f.nth)
	}
}

// injectable lists every operation FailNth can fail, with about how many
// calls of it a random state's workload makes (measured: the modes differ
// in Sync and WriteAt only, which NoSync, SyncInterval and mapped writes
// do not use), so that a fault drawn in [1, calls] usually strikes. Lock,
// List and most Opens are Open's; Remove is recovery's (see
// recoveryFault); Close errors are ignored by the engine and must change
// nothing.
var injectable = []struct {
	op    simfs.Op
	calls int64
}{
	{simfs.OpCreate, 10},
	{simfs.OpOpen, 8},
	{simfs.OpRename, 12},
	{simfs.OpRemove, 2},
	{simfs.OpList, 5},
	{simfs.OpSyncDir, 9},
	{simfs.OpLock, 2},
	{simfs.OpWriteAt, 20},
	{simfs.OpSync, 40},
	{simfs.OpClose, 17},
}

// drawFaults adds to ff, with a low probability each, a failure of every
// injectable operation not already failed.
func drawFaults(r *rand.Rand, ff faults) faults {
	for _, in := range injectable {
		if r.IntN(24) == 0 && !ff.has(in.op) {
			ff = append(ff, fault{in.op, 1 + r.Int64N(in.calls)})
		}
	}
	return ff
}
