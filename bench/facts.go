package bench

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spooldb/spool/engine"
)

// RecordSize is the encoded size of one benchmark event: a 100-byte
// payload on stream users/<n> with type EventType (the raw baseline writes
// records of the same size).
const RecordSize = DefaultRawRecordSize

// Facts prints what c (after defaults) measures, as header lines: the
// engine options, the durability mode of each workload, the event size,
// the sizes of the stores the workloads build, and the workload sizes.
// A number means little without them, so every report carries them.
func (c Config) Facts() []Fact {
	c = c.WithDefaults()
	base := c.Options
	base.Durability = engine.SyncEachCommit
	writes := "staged (one pwrite per commit)"
	if base.MappedWrites {
		writes = "mapped (stores through the mapping)"
	}
	loadEvents := int64(c.LoadStreams) * int64(c.LoadPerStream)
	return []Fact{
		{"engine", base.String()},
		{"durability", fmt.Sprintf("W1, W1b, S1, S2: %v, writes %s; W1c: %v; L: %v + one Sync; raw-pre: pwrite + fdatasync",
			engine.SyncEachCommit, writes, engine.NoSync, engine.NoSync)},
		{"event", fmt.Sprintf("%d-byte JSON payload of type %q, %d-byte record; raw-pre records %d bytes",
			PayloadSize, EventType, RecordSize, c.RawRecordSize)},
		{"store", fmt.Sprintf("L: %d streams x %d events = %d events, %s of records; append runs: %d events (W1 C=1: %d), %s of records each",
			c.LoadStreams, c.LoadPerStream, loadEvents, formatMiB(loadEvents*RecordSize),
			c.Events, c.EventsSingle, formatMiB(int64(c.Events)*RecordSize))},
		{"workloads", fmt.Sprintf("W1 C=%s, W1b batch=%d, W1c C=%s, %d streams; S1/S2 C=%d, S2 %d subscribers; L batch %d; W2 %d reads/dir; W4/W5 %d opens; cap %v",
			joinInts(c.Writers), c.Batch, joinInts(c.NoSyncWriters), c.Streams, c.FollowWriters, c.Subscribers,
			c.LoadBatch, c.Reads, c.Opens, c.DurationCap)},
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// formatMiB prints a byte count in MiB with one decimal: sizes of stores
// are rarely round.
func formatMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
