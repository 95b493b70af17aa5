package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spooldb/spool/engine"
)

// Workload names, in the order a suite runs them.
var Workloads = []string{"W1", "W1b", "W1c", "S1", "S2", "L", "W2", "W3", "W5", "W4", "W6"}

// Config sizes a suite. Zero fields mean the defaults (the peers' sizes).
type Config struct {
	// Dir is where the suite makes its temporary directory (default
	// os.TempDir()); everything is removed afterwards.
	Dir string
	// Only lists the workloads to run (names from Workloads); empty means
	// all. W2, W3 and W4 need the L store, so any of them runs L too.
	Only []string
	// NoRaw skips the raw baseline (durable rows then have no x raw).
	NoRaw bool

	Writers       []int // W1 writer counts (default 1, 16, 256)
	NoSyncWriters []int // W1c writer counts (default 1, 16)
	Events        int   // events per append run (default 200,000)
	EventsSingle  int   // events of W1 with one writer (default 20,000; capped at Events)
	Streams       int   // streams W1/W1b/W1c write to (default 10,000)
	Batch         int   // events per Append in W1b (default 100)
	FollowWriters int   // S1, S2: durable writer goroutines (default 16)
	Subscribers   int   // S2: live subscribers (default 100)

	LoadStreams   int // L: streams (default 1,000)
	LoadPerStream int // L: events per stream (default 1,000; a multiple of LoadBatch)
	LoadBatch     int // L: events per Append (default 10)
	Reads         int // W2: random whole-stream reads per direction (default 1,000)
	Opens         int // W4, W5: opens timed (default 3)

	// DurationCap stops an append run after this long (default 15 s).
	DurationCap time.Duration
	// Settle bounds the wait for a quiet device before each workload
	// (default 3 s; negative disables).
	Settle time.Duration
	// Options are the engine options; Durability is set per workload.
	Options engine.Options
	// RawRecordSize is the raw baseline's record size (default 224).
	RawRecordSize int
	// RawChunk is the raw baseline's zero-fill step (default 64 MiB).
	RawChunk int64
	// Stall bounds how long a read workload may make no progress before
	// the round fails with ErrStalled (default 30 s; negative: no limit).
	Stall time.Duration
}

// Defaults of Config.
const (
	DefaultEvents        = 200_000
	DefaultEventsSingle  = 20_000
	DefaultStreams       = 10_000
	DefaultBatch         = 100
	DefaultFollowWriters = 16
	DefaultSubscribers   = 100
	DefaultLoadStreams   = 1_000
	DefaultLoadPerStream = 1_000
	DefaultLoadBatch     = 10
	DefaultReads         = 1_000
	DefaultOpens         = 3
	DefaultDurationCap   = 15 * time.Second
	DefaultSettle        = 3 * time.Second
)

// MaxEvents bounds the events of one run and of the L store: 20M records
// are ~4.5 GB of log, and as much again for the raw baseline's
// preallocated file.
const MaxEvents = 20_000_000

// ParseLoad reads an L store size written STREAMSxEVENTS (events per
// stream), e.g. 1000x1000: two positive numbers and nothing else.
func ParseLoad(v string) (streams, perStream int, err error) {
	a, b, ok := strings.Cut(v, "x")
	if ok {
		streams, err = strconv.Atoi(a)
	}
	if ok && err == nil {
		perStream, err = strconv.Atoi(b)
	}
	if !ok || err != nil || streams < 1 || perStream < 1 {
		return 0, 0, fmt.Errorf("bench: bad load size %q (want STREAMSxEVENTS, e.g. 1000x1000)", v)
	}
	return streams, perStream, nil
}

// WithDefaults returns c with zero fields set to defaults.
func (c Config) WithDefaults() Config {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	if len(c.Writers) == 0 {
		c.Writers = []int{1, 16, 256}
	}
	if len(c.NoSyncWriters) == 0 {
		c.NoSyncWriters = []int{1, 16}
	}
	def(&c.Events, DefaultEvents)
	def(&c.EventsSingle, DefaultEventsSingle)
	c.EventsSingle = min(c.EventsSingle, c.Events)
	def(&c.Streams, DefaultStreams)
	def(&c.Batch, DefaultBatch)
	def(&c.FollowWriters, DefaultFollowWriters)
	def(&c.Subscribers, DefaultSubscribers)
	def(&c.LoadStreams, DefaultLoadStreams)
	def(&c.LoadPerStream, DefaultLoadPerStream)
	def(&c.LoadBatch, DefaultLoadBatch)
	def(&c.Reads, DefaultReads)
	def(&c.Opens, DefaultOpens)
	def(&c.RawRecordSize, DefaultRawRecordSize)
	if c.DurationCap <= 0 {
		c.DurationCap = DefaultDurationCap
	}
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.Stall == 0 {
		c.Stall = DefaultStall
	}
	if c.RawChunk <= 0 {
		c.RawChunk = DefaultRawChunk
	}
	return c
}

// Validate reports the first problem of c (after defaults).
func (c Config) Validate() error {
	c = c.WithDefaults()
	for _, w := range c.Only {
		if !slices.Contains(Workloads, w) {
			return fmt.Errorf("bench: unknown workload %q (have %s)", w, strings.Join(Workloads, ", "))
		}
	}
	for _, w := range slices.Concat(c.Writers, c.NoSyncWriters, []int{c.FollowWriters}) {
		if w < 1 || w > 100_000 {
			return fmt.Errorf("bench: writer count %d out of range", w)
		}
	}
	if c.Subscribers > 10_000 {
		return fmt.Errorf("bench: %d subscribers is too many", c.Subscribers)
	}
	// Upper bounds, so that a typo fails here rather than as an
	// allocation of every sample or a preallocated raw log filling the
	// disk: runs are sized up front (DurationCap only stops them early).
	for _, b := range []struct {
		what   string
		n, max int64
	}{
		{"events per run", int64(c.Events), MaxEvents},
		{"events of the L store", int64(c.LoadStreams) * int64(c.LoadPerStream), MaxEvents},
		{"streams", int64(c.Streams), MaxEvents},
		{"W2 reads", int64(c.Reads), MaxEvents},
		{"W4/W5 opens", int64(c.Opens), 10_000},
	} {
		if b.n > b.max {
			return fmt.Errorf("bench: %d %s is too many (at most %d)", b.n, b.what, b.max)
		}
	}
	if c.LoadPerStream%c.LoadBatch != 0 {
		return fmt.Errorf("bench: events per stream (%d) must be a multiple of the load batch (%d)", c.LoadPerStream, c.LoadBatch)
	}
	if c.Batch > engine.MaxEventsPerAppend || c.LoadBatch > engine.MaxEventsPerAppend {
		return fmt.Errorf("bench: batch larger than %d", engine.MaxEventsPerAppend)
	}
	// A batch must fit a segment (less its header; 4 KiB spares every
	// stream name's length): found here, not after the rows before W1b.
	seg := c.Options.SegmentSize
	if seg == 0 {
		seg = engine.DefaultSegmentSize
	}
	if b := int64(max(c.Batch, c.LoadBatch)); b*RecordSize > seg-4096 {
		return fmt.Errorf("bench: a batch of %d events (%d bytes) does not fit a %d-byte segment", b, b*RecordSize, seg)
	}
	return c.Options.Validate()
}

// Wants reports whether workload w runs under c.
func (c Config) Wants(w string) bool {
	if len(c.Only) == 0 {
		return true
	}
	if w == "L" {
		return slices.Contains(c.Only, "L") || slices.Contains(c.Only, "W2") ||
			slices.Contains(c.Only, "W3") || slices.Contains(c.Only, "W4") || slices.Contains(c.Only, "W5")
	}
	return slices.Contains(c.Only, w)
}

// SetPrep sets o.SegmentPrep by its name ("zero-fill" or "fallocate", as
// the engine prints it). The engine does not re-export the mmapfile.Prep
// constants, so this finds the value by name.
func SetPrep(o *engine.Options, name string) error {
	o.SegmentPrep = 0
	for range 16 {
		if o.SegmentPrep.String() == name {
			return nil
		}
		o.SegmentPrep++
	}
	o.SegmentPrep = 0
	return fmt.Errorf("bench: unknown segment preparation %q (zero-fill or fallocate)", name)
}
