package bench

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// AppendFunc appends n events (numbered first … first+n-1 in the run) to
// the stream streams[si]. Each writer goroutine gets its own AppendFunc
// from the factory passed to Drive, so it can own scratch buffers.
type AppendFunc func(stream string, si, first, n int) error

// DriveSpec describes a run of appends.
type DriveSpec struct {
	Writers int      // writer goroutines (default 1)
	Events  int      // total events
	Batch   int      // events per call (default 1)
	Streams []string // append k goes to Streams[k mod len(Streams)]
	// Cap stops the run (each writer after its current call) once it has
	// lasted this long; 0 means no cap.
	Cap time.Duration
}

// DriveResult is what a run did.
type DriveResult struct {
	Events   int64         // events acknowledged
	Calls    int64         // calls acknowledged
	Elapsed  time.Duration // from the start of the first call to the end of the last
	Latency  Quantiles     // per call
	Capped   bool          // stopped by the duration cap
	Writers  int
	Batch    int
	Requests int // events requested
}

// Drive runs spec.Writers goroutines that take append numbers k = 0, 1, 2…
// from a shared counter until spec.Events events are taken, and call
// their AppendFunc for events [k*Batch, min((k+1)*Batch, Events)) on
// stream Streams[k mod len(Streams)]. The first error stops the run and is
// returned.
func Drive(spec DriveSpec, newWriter func(w int) AppendFunc) (DriveResult, error) {
	writers := max(spec.Writers, 1)
	batch := max(spec.Batch, 1)
	if len(spec.Streams) == 0 {
		return DriveResult{}, errors.New("bench: no streams")
	}
	calls := (spec.Events + batch - 1) / batch
	res := DriveResult{Writers: writers, Batch: batch, Requests: spec.Events}
	var (
		next, events, done atomic.Int64
		stop, capped       atomic.Bool
		errOnce            sync.Once
		firstErr           error
		wg                 sync.WaitGroup
	)
	lats := make([]*Latencies, writers)
	fns := make([]AppendFunc, writers)
	for w := range writers {
		lats[w] = NewLatencies(calls/writers + 1)
		fns[w] = newWriter(w)
	}
	start := time.Now()
	deadline := time.Time{}
	if spec.Cap > 0 {
		deadline = start.Add(spec.Cap)
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, app := lats[w], fns[w]
			for !stop.Load() {
				k := next.Add(1) - 1
				first := int(k) * batch
				if first >= spec.Events {
					return
				}
				n := min(batch, spec.Events-first)
				si := int(k % int64(len(spec.Streams)))
				t0 := time.Now()
				err := app(spec.Streams[si], si, first, n)
				t1 := time.Now()
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("append %d (%d events to %s): %w", k, n, spec.Streams[si], err) })
					stop.Store(true)
					return
				}
				lat.Add(t1.Sub(t0))
				events.Add(int64(n))
				done.Add(1)
				if !deadline.IsZero() && t1.After(deadline) {
					capped.Store(true)
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Events = events.Load()
	res.Calls = done.Load()
	res.Capped = capped.Load()
	res.Latency = MergeLatencies(lats...)
	return res, firstErr
}
