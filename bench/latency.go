package bench

import (
	"math"
	"slices"
	"time"
)

// Latencies records operation durations exactly. Each writer goroutine
// owns one (no sharing, no locks); Merge combines them. Preallocate with
// NewLatencies so recording never allocates on the measured path.
type Latencies struct {
	d []time.Duration
}

// NewLatencies returns a recorder with room for n samples, at most a
// million: a run capped by time may record far fewer than it planned, and
// past a million samples a rare append's growth does not show.
func NewLatencies(n int) *Latencies {
	return &Latencies{d: make([]time.Duration, 0, min(max(n, 0), 1<<20))}
}

// Add records one sample.
func (l *Latencies) Add(d time.Duration) { l.d = append(l.d, d) }

// Len is the number of samples.
func (l *Latencies) Len() int { return len(l.d) }

// MergeLatencies returns the sorted samples of all recorders.
func MergeLatencies(ls ...*Latencies) Quantiles {
	n := 0
	for _, l := range ls {
		if l != nil {
			n += len(l.d)
		}
	}
	all := make([]time.Duration, 0, n)
	for _, l := range ls {
		if l != nil {
			all = append(all, l.d...)
		}
	}
	slices.Sort(all)
	return Quantiles{sorted: all}
}

// Quantiles answers quantile queries over sorted samples.
type Quantiles struct {
	sorted []time.Duration
}

// Count is the number of samples.
func (q Quantiles) Count() int { return len(q.sorted) }

// At returns the nearest-rank q-quantile (0 < q <= 1), or 0 without samples.
func (q Quantiles) At(p float64) time.Duration {
	n := len(q.sorted)
	if n == 0 {
		return 0
	}
	// Nearest rank: the smallest sample with at least p*n samples <= it.
	rank := int(math.Ceil(p*float64(n)-1e-9)) - 1
	rank = min(max(rank, 0), n-1)
	return q.sorted[rank]
}

// Max is the largest sample.
func (q Quantiles) Max() time.Duration {
	if len(q.sorted) == 0 {
		return 0
	}
	return q.sorted[len(q.sorted)-1]
}
