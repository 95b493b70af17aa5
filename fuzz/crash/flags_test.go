package crash

import (
	"flag"
	"fmt"
	"time"
)

var (
	flagStates = flag.Int("crash.states", 1000, "random crash states TestRandomCrashStates runs")
	// flagCompactionStates is the number of states TestCompactionCrashStates runs.
	flagCompactionStates = flag.Int("crash.compaction-states", 200, "random crash states TestCompactionCrashStates runs")
	flagSoak             = flag.Duration("crash.soak", 0, "run random crash states for this long instead of -crash.states of them")
	flagSeed             = flag.Uint64("crash.seed", 1, "seed of the first random crash state (the others follow it); 0 picks one from the clock")
)

// baseSeed is the seed of the first state of this run.
func baseSeed() uint64 {
	if *flagSeed == 0 {
		return uint64(time.Now().UnixNano())
	}
	return *flagSeed
}

// replayCommand is the go test invocation that runs the state of seed alone.
func replayCommand(test string, seed uint64) string {
	return fmt.Sprintf("go test ./fuzz/crash -run '^%s$' -crash.seed=%d -crash.states=1 -count=20 -v", test, seed)
}
