package bench

// Small-board limits SmallConfig is sized for.
const (
	SmallDiskBudget = 2 << 30   // bytes of disk a full run may use at its peak
	SmallRAMBudget  = 512 << 20 // bytes of RAM of the whole machine
)

// SmallConfig sizes a full suite for a small board (a Raspberry Pi with an
// SD card, a 32-bit ARM box): at most SmallDiskBudget of disk and a machine
// with SmallRAMBudget of RAM. The defaults (the peers' sizes) build a
// 224 MB load store, copy it for W5, and run 256 writers; on an SD card at
// a few hundred fsyncs a second that takes most of an hour and the W5 copy
// alone may not fit. The small sizes keep every workload and every shape
// (1, 16 and 64 writers, batch 100, forward and backward reads) so rows
// still compare with the full suite's as ratios, just with fewer events:
//
//	events          20,000 per append run (2,000 with one writer)
//	writers         W1 1,16,64; W1c 1,16
//	streams         1,000
//	S2 subscribers  20
//	L store         200 streams x 1,000 events (about 43 MiB of records)
//	W2 reads        200 per direction
//	segments        16 MiB (the raw baseline zero-fills 16 MiB ahead too)
//
// Dir, Only and NoRaw are left zero for the caller.
func SmallConfig() Config {
	c := Config{
		Writers:       []int{1, 16, 64},
		NoSyncWriters: []int{1, 16},
		Events:        20_000,
		EventsSingle:  2_000,
		Streams:       1_000,
		Batch:         DefaultBatch,
		FollowWriters: DefaultFollowWriters,
		Subscribers:   20,
		LoadStreams:   200,
		LoadPerStream: 1_000,
		LoadBatch:     DefaultLoadBatch,
		Reads:         200,
		Opens:         DefaultOpens,
		DurationCap:   DefaultDurationCap,
		RawChunk:      16 << 20,
	}
	c.Options.SegmentSize = 16 << 20
	return c
}

// PeakDiskBytes estimates the most disk c (after defaults) uses at once:
// the L store and its W5 copy, each rounded up to whole segments plus the
// spare segment the engine prepares ahead, or an append run's store with
// its spare next to the raw log's zero-filled chunk, whichever is larger.
// Files of a workload are removed before the next starts.
func (c Config) PeakDiskBytes() int64 {
	c = c.WithDefaults()
	seg := c.Options.SegmentSize
	if seg == 0 {
		seg = 64 << 20 // the engine's default on 64-bit; 32-bit uses 16 MiB
	}
	segments := func(events int64) int64 {
		return ((events*RecordSize+seg-1)/seg + 1) * seg
	}
	load := 2 * segments(int64(c.LoadStreams)*int64(c.LoadPerStream))
	appendRun := segments(int64(c.Events)) + c.RawChunk + int64(c.Events)*int64(c.RawRecordSize)
	return max(load, appendRun)
}
