package crash

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spooldb/spool/mmapfile/simfs"
)

// TestSystematicCrashPoints runs one small fixed workload (one worker, a
// clean reopen, segment rolls, index growth) and cuts the power after its
// k-th storage operation for every k until the workload completes first;
// each cut is settled three ways: drop-all (only what was synced),
// keep-all (a process crash) and random.
func TestSystematicCrashPoints(t *testing.T) {
	base := state{
		seed: 42,
		w: workload{
			segSize:   64 << 10,
			workers:   1,
			perWorker: 30,
			phases:    2,
			streams:   8,
		},
		slots: 16,
	}
	if testing.Short() {
		base.w.perWorker = 10
	}
	start := time.Now()
	var total tally
	resolutions := []simfs.Resolution{simfs.DropAll, simfs.KeepAll, simfs.Random}
	for k := int64(1); ; k++ {
		st := base
		st.freezeAt = k
		m, fs, s := st.workload()
		fs.Freeze() // cut here if the workload completed first
		if s != nil {
			_ = s.Close()
		}
		r := rand.New(rand.NewPCG(uint64(k), 3))
		for _, res := range resolutions {
			total.add(st.recoverAndCheck(fs.Crash(r, res), r, m))
			if err := m.err(); err != nil {
				t.Fatalf("crash after storage operation %d of %d, %v:\n\t%v\nreplay: go test ./fuzz/crash -run '^TestSystematicCrashPoints$' -v",
					k, fs.Ops(), res, err)
			}
		}
		if fs.Ops() < k { // the workload ended before reaching k
			break
		}
	}
	d := time.Since(start)
	t.Logf("%d states in %v: %d acknowledged events checked, %d lost, %d corrupt returned",
		total.states, d.Round(time.Millisecond), total.acked, total.lost, total.corrupt)
}
