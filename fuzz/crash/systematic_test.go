package crash

import (
	"math/rand/v2"
	"regexp"
	"testing"
	"time"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// TestSystematicCrashPoints runs one small fixed workload (one worker, a
// clean reopen, segment rolls, index growth, Syncs) in each durability
// mode and cuts the power after its k-th storage operation for every k
// until the workload completes first; each cut is settled three ways:
// drop-all (only what was synced), keep-all (a process crash) and random.
func TestSystematicCrashPoints(t *testing.T) {
	for _, md := range systematicModes {
		t.Run(md.label(), func(t *testing.T) { systematicCrashPoints(t, md) })
	}
}

// systematicModes are the durability settings the systematic tests run.
var systematicModes = []mode{
	{durability: engine.SyncEachCommit},
	{durability: engine.SyncEachCommit, mapped: true},
	{durability: engine.SyncInterval, interval: 2 * time.Millisecond},
	{durability: engine.NoSync},
}

func systematicCrashPoints(t *testing.T, md mode) {
	base := state{
		seed: 42,
		mode: md,
		w: workload{
			segSize:   64 << 10,
			workers:   1,
			perWorker: 30,
			phases:    2,
			streams:   16, // with 16 slots, the 13th stream grows the index
		},
		slots: 16,
	}
	checkSystematicWorkload(t, base)
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
				t.Fatalf("%v: crash after storage operation %d of %d, %v:\n\t%v\nreplay: go test ./fuzz/crash -run '^TestSystematicCrashPoints$/^%s$' -v",
					md, k, fs.Ops(), res, err, regexp.QuoteMeta(md.label()))
			}
		}
		if fs.Ops() < k { // the workload ended before reaching k
			break
		}
	}
	d := time.Since(start)
	t.Logf("%v: %d states in %v: %d acknowledged events checked, %d lost, %d corrupt returned",
		md, total.states, d.Round(time.Millisecond), total.acked, total.lost, total.corrupt)
}

// TestCrashDuringRecovery cuts the power inside recovery: the workload is
// crashed at a few points, then the Open that recovers it is itself cut
// after its j-th storage operation, for every j until it completes, and
// settled at random; a second recovery must still hold every acknowledged
// event (recovery is idempotent under crashes, not only between them),
// in each durability mode.
func TestCrashDuringRecovery(t *testing.T) {
	for _, md := range systematicModes {
		t.Run(md.label(), func(t *testing.T) { crashDuringRecovery(t, md) })
	}
}

func crashDuringRecovery(t *testing.T, md mode) {
	base := state{
		seed:  7,
		mode:  md,
		w:     workload{segSize: 64 << 10, workers: 2, perWorker: 25, phases: 1, streams: 3},
		slots: 16,
	}
	var total tally
	points := 0
	for _, k := range []int64{40, 90, 150, 1 << 30} {
		for j := int64(1); ; j++ {
			st := base
			st.freezeAt = k
			m, fs, s := st.workload()
			fs.Freeze()
			if s != nil {
				_ = s.Close()
			}
			r := rand.New(rand.NewPCG(uint64(k), uint64(j)))
			after := fs.Crash(r, simfs.Random)
			after.FreezeAfter(j)
			if s2, err := engine.Open("crash", st.options(after)); err == nil {
				_ = s2.Close()
			}
			completed := !after.Frozen()
			total.add(st.recoverAndCheck(after.Crash(r, simfs.Random), r, m))
			points++
			if err := m.err(); err != nil {
				t.Fatalf("%v: workload cut after operation %d, its recovery cut after operation %d:\n\t%v", md, k, j, err)
			}
			if completed {
				break
			}
		}
	}
	t.Logf("%v: %d states, crashed inside recovery: %d acknowledged events checked, %d lost, %d corrupt returned",
		md, total.states, total.acked, total.lost, total.corrupt)
	if points < 10 {
		t.Fatalf("only %d crash points inside recovery: the recoveries did almost nothing", points)
	}
}

// checkSystematicWorkload runs the systematic workload uncut once and
// fails unless it does what the crash points are meant to cover: segment
// rolls and an index growth. A change to the workload must not quietly
// take them away.
func checkSystematicWorkload(t *testing.T, base state) {
	t.Helper()
	m, fs, s := base.workload()
	if err := m.err(); err != nil {
		t.Fatal(err)
	}
	if s == nil {
		t.Fatal("the uncut workload left no store")
	}
	st := s.Stats()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs := 0
	names, _ := fs.List()
	for _, n := range names {
		if _, ok := segment.ParseFileName(n); ok {
			segs++
		}
	}
	if segs < 2 || st.IndexSlots <= uint64(base.slots) {
		t.Fatalf("the systematic workload made %d segments and ended with %d index slots (from %d): it must roll segments and grow the index",
			segs, st.IndexSlots, base.slots)
	}
}
