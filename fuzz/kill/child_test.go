package kill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"

	"github.com/spooldb/spool/engine"
)

// Environment of a child process.
const (
	envDir  = "SPOOL_KILL_DIR"  // the store directory; its presence makes the test binary a child
	envMode = "SPOOL_KILL_MODE" // durability mode, as engine.Durability's number
	envSeed = "SPOOL_KILL_SEED"
)

const childWriters = 4

// storeOptions are the options of every Open, parent and child alike:
// small segments and a small index, so that a few hundred appends roll
// segments and grow the index.
func storeOptions(d engine.Durability) *engine.Options {
	return &engine.Options{Durability: d, SegmentSize: 64 << 10, IndexSlots: 16}
}

// runChild is the child process: it opens the store and appends until it
// is killed. Writer w owns the streams i with i mod childWriters == w, so
// it knows each stream's version and appends with it as the expected
// version. After each acknowledged append it writes one line
// "a <stream> <first> <last>" to stdout (fd 1, unbuffered: one write per
// line, atomic on a pipe). Anything unexpected is written as "e <message>"
// and ends the child with status 3.
func runChild() {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stdout, "e "+format+"\n", args...)
		os.Exit(3)
	}
	mode, err := strconv.Atoi(os.Getenv(envMode))
	if err != nil {
		fail("bad %s: %v", envMode, err)
	}
	seed, err := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
	if err != nil {
		fail("bad %s: %v", envSeed, err)
	}
	s, err := engine.Open(os.Getenv(envDir), storeOptions(engine.Durability(mode)))
	if err != nil {
		fail("open: %v", err)
	}
	fmt.Fprintf(os.Stdout, "o\n")
	var out sync.Mutex // one line per write, lines never interleaved
	var wg sync.WaitGroup
	for w := range childWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var own []int
			next := map[int]int64{}
			for i := w; i < streamCount; i += childWriters {
				own = append(own, i)
				v, err := s.StreamVersion(streamName(i))
				if err != nil {
					fail("version of %s: %v", streamName(i), err)
				}
				next[i] = v + 1
			}
			for {
				i := own[rng.IntN(len(own))]
				name := streamName(i)
				first := next[i]
				n := 1
				if rng.IntN(4) == 0 {
					n = 2 + rng.IntN(4)
				}
				evs := make([]engine.Event, 0, n)
				size := 0
				for v := first; v < first+int64(n); v++ {
					d := eventData(name, v)
					if size+len(d) > 40<<10 && len(evs) > 0 {
						break // a batch must fit in a segment
					}
					size += len(d)
					evs = append(evs, engine.Event{Type: eventType, Data: d})
				}
				last := first + int64(len(evs)) - 1
				for j := range evs {
					evs[j].Metadata = batchMeta(first, last)
				}
				if _, err := s.Append(context.Background(), name, first-1, evs...); err != nil {
					fail("append %s@%d..%d: %v", name, first, last, err)
				}
				next[i] = last + 1
				out.Lock()
				fmt.Fprintf(os.Stdout, "a %d %d %d\n", i, first, last)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}
