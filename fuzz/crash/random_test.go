package crash

import (
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRandomCrashStates runs -crash.states seeded random crash states (or
// as many as -crash.soak allows),
// starting at -crash.seed, spread over GOMAXPROCS goroutines (states are
// independent; each has its own FS and store).
func TestRandomCrashStates(t *testing.T) {
	runStates(t, "TestRandomCrashStates", *flagStates, randomState)
}

// TestCompactionCrashStates runs -crash.compaction-states random crash
// states whose workers delete and compact a lot, so that the power is cut
// inside compactions, and recovery finds compacted segments, at every
// point: nothing live may be lost, nothing deleted may come back.
func TestCompactionCrashStates(t *testing.T) {
	runStates(t, "TestCompactionCrashStates", *flagCompactionStates, compactionState)
}

// runStates runs n random states drawn by draw (see
// TestRandomCrashStates).
func runStates(t *testing.T, name string, n int, draw func(seed uint64) state) {
	if testing.Short() {
		n = min(n, 50)
	}
	base := baseSeed()
	start := time.Now()
	var deadline time.Time
	if *flagSoak > 0 {
		n, deadline = math.MaxInt, start.Add(*flagSoak)
	}
	var (
		next   atomic.Int64
		stop   atomic.Bool
		mu     sync.Mutex
		total  tally
		byMode = make(map[string]*tally)
		failed *stateFailure
		wg     sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := next.Add(1) - 1
				if i >= int64(n) || (!deadline.IsZero() && time.Now().After(deadline)) {
					return
				}
				st := draw(base + uint64(i))
				got, err := st.run()
				mu.Lock()
				total.add(got)
				mt := byMode[st.mode.label()]
				if mt == nil {
					mt = &tally{}
					byMode[st.mode.label()] = mt
				}
				mt.add(got)
				if err != nil && (failed == nil || st.seed < failed.st.seed) {
					failed = &stateFailure{st, err}
					stop.Store(true)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("crash state %v:\n\t%v\nreplay: %s", failed.st, failed.err, replayCommand(name, failed.st.seed))
	}
	d := time.Since(start)
	t.Logf("%d states (seeds %d-%d) in %v, %.0f states/s: %d acknowledged events checked, %d lost, %d corrupt returned",
		total.states, base, base+uint64(total.states)-1, d.Round(time.Millisecond), float64(total.states)/d.Seconds(), total.acked, total.lost, total.corrupt)
	// Not in the summary line's words, which CI adds up.
	for _, name := range slices.Sorted(maps.Keys(byMode)) {
		mt := byMode[name]
		t.Logf("  %-21s %5d states (injected failures struck in %d, in %d recoveries): %d events acknowledged, %d of them promised, %d unpromised dropped",
			name, mt.states, mt.injected, mt.injectedRecovery, mt.acked, mt.promised, mt.dropped)
	}
}

type stateFailure struct {
	st  state
	err error
}
