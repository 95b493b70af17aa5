package bench

import (
	"math"
	"time"
)

// Result is one row of a benchmark report.
type Result struct {
	Workload   string // one of Workloads
	Params     string // e.g. "C=16", "batch=100", "fwd"
	Durability string // engine durability mode, or "raw-pre" for the baseline
	Raw        bool   // the raw baseline row

	Events       int64         // events appended or read
	Seconds      float64       // wall time of the measured part
	EventsPerSec float64       // 0 when not meaningful
	MBPerSec     float64       // payload MB/s (1 MB = 10^6 bytes); 0 when not meaningful
	P50          time.Duration // per operation (append call, stream read, open); 0 = n/a
	P99          time.Duration
	P999         time.Duration

	// XRaw is EventsPerSec over the raw baseline row with the same writer
	// count (batch variant for W1b), same round; 0 = n/a.
	XRaw float64
	// DevBytes is device bytes written during the workload, CommittedBytes
	// the record bytes it committed; DevPerByte their ratio, NaN when
	// unknown.
	DevBytes       int64
	CommittedBytes int64
	DevPerByte     float64

	// XBase is EventsPerSec over the row named BaseName of the same
	// workload and round (S2: with subscribers over without); 0 = n/a.
	XBase    float64
	BaseName string

	Capped bool   // stopped by the duration cap
	Notes  string // extra facts: group-commit sizes, open details…
}

// Key identifies a row across rounds.
func (r Result) Key() string { return r.Workload + "|" + r.Params + "|" + r.Durability }

func (r *Result) setRates(events int64, payloadBytes int64, d time.Duration) {
	r.Events = events
	r.Seconds = d.Seconds()
	if d > 0 {
		r.EventsPerSec = float64(events) / d.Seconds()
		r.MBPerSec = float64(payloadBytes) / d.Seconds() / 1e6
	}
}

func (r *Result) setLatency(q Quantiles) {
	r.P50, r.P99, r.P999 = q.At(0.50), q.At(0.99), q.At(0.999)
}

func (r *Result) setDevice(dev, committed int64) {
	r.DevBytes, r.CommittedBytes = dev, committed
	r.DevPerByte = math.NaN()
	if dev >= 0 && committed > 0 {
		r.DevPerByte = float64(dev) / float64(committed)
	}
}

func noDevice(r *Result) { r.DevBytes, r.DevPerByte = -1, math.NaN() }
