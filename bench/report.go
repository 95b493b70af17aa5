package bench

import (
	"time"
)

// Report is everything one `spool bench` run measured, in the form
// `spool bench --json` writes (see "JSON reports" in the package
// documentation for the schema): the machine, the header facts, the
// configuration, every round's rows and the summary over the rounds.
type Report struct {
	Schema  string    `json:"schema"`  // always ReportSchema
	Version int       `json:"version"` // ReportVersion of the writer
	Started time.Time `json:"started"` // RFC 3339
	WallS   Float     `json:"wall_s"`  // wall time of all rounds, seconds
	// SpoolVersion is the measured code's version (git describe for a
	// release build, the VCS revision or "devel" otherwise).
	SpoolVersion string `json:"spool_version"`

	Machine Machine        `json:"machine"`
	Facts   []Fact         `json:"facts"` // the text header's lines, in order
	Config  ConfigJSON     `json:"config"`
	Rounds  [][]ResultJSON `json:"rounds"`  // rounds[i] = round i's rows in suite order
	Summary []RowJSON      `json:"summary"` // Summarize(rounds)

	// Incomplete is the error that stopped the run early, "" when it ran
	// to the end; the rows measured before it are still there.
	Incomplete string `json:"incomplete,omitempty"`
}

// JSON schema identification. Version changes only when a field is
// removed or changes meaning; fields may be added within a version, so
// readers must ignore fields they do not know.
const (
	ReportSchema  = "spool-bench"
	ReportVersion = 1
)

// ResultJSON is one Result with units in its field names. Durations are
// integer nanoseconds, 0 when not measured; Float fields are null when
// unknown.
type ResultJSON struct {
	Key        string `json:"key"` // workload|params|durability, Result.Key
	Workload   string `json:"workload"`
	Params     string `json:"params"`
	Durability string `json:"durability"`
	Raw        bool   `json:"raw"`

	Events        int64 `json:"events"`
	WallS         Float `json:"wall_s"`
	EventsPerS    Float `json:"events_per_s"`     // 0 when not meaningful
	PayloadMBPerS Float `json:"payload_mb_per_s"` // 10^6 bytes; 0 when not meaningful
	P50Ns         int64 `json:"p50_ns"`
	P99Ns         int64 `json:"p99_ns"`
	P999Ns        int64 `json:"p999_ns"`

	XRaw           Float  `json:"x_raw"`        // events/s over raw-pre's with the same C; 0 = n/a
	DeviceBytes    int64  `json:"device_bytes"` // -1 = unknown
	CommittedBytes int64  `json:"committed_bytes"`
	DeviceBPerB    Float  `json:"device_bytes_per_committed_byte"`
	XBase          Float  `json:"x_base"` // events/s over row base_name's; 0 = n/a
	BaseName       string `json:"base_name,omitempty"`

	Capped bool   `json:"capped"`
	Notes  string `json:"notes,omitempty"`
}

// RowJSON is one summary row: medians over the rounds, how many rounds
// had the row, and the spread of its headline metric.
type RowJSON struct {
	ResultJSON
	Rounds int `json:"rounds"`
	// Spread is (max - min) / 2 / median of events/s over the rounds (of
	// p50 when the row has no rate); null with one round.
	Spread Float `json:"spread"`
}

// ConfigJSON is the Config a run used, after defaults.
type ConfigJSON struct {
	Small         bool     `json:"small"` // --small sizes (SmallConfig)
	Only          []string `json:"only"`  // empty: every workload
	NoRaw         bool     `json:"no_raw"`
	Writers       []int    `json:"writers"`
	NoSyncWriters []int    `json:"nosync_writers"`
	Events        int      `json:"events"`
	EventsSingle  int      `json:"events_single"`
	Streams       int      `json:"streams"`
	Batch         int      `json:"batch"`
	FollowWriters int      `json:"follow_writers"`
	Subscribers   int      `json:"subscribers"`
	LoadStreams   int      `json:"load_streams"`
	LoadPerStream int      `json:"load_per_stream"`
	LoadBatch     int      `json:"load_batch"`
	Reads         int      `json:"reads"`
	Opens         int      `json:"opens"`
	DurationCapNs int64    `json:"duration_cap_ns"`
	SettleNs      int64    `json:"settle_ns"` // negative: no wait

	Engine         string `json:"engine"`        // engine.Options.String() with SyncEachCommit
	SegmentBytes   int64  `json:"segment_bytes"` // 0: the engine's default (64 MiB, 16 MiB on 32-bit)
	SegmentPrep    string `json:"segment_prep"`
	IndexSlots     uint64 `json:"index_slots"` // 0: the engine's default
	MappedWrites   bool   `json:"mapped_writes"`
	RecordBytes    int    `json:"record_bytes"`
	PayloadBytes   int    `json:"payload_bytes"`
	RawRecordBytes int    `json:"raw_record_bytes"`
	RawChunkBytes  int64  `json:"raw_chunk_bytes"`
	PeakDiskBytes  int64  `json:"peak_disk_bytes"` // Config.PeakDiskBytes
}

// JSON describes c (after defaults).
func (c Config) JSON(small bool) ConfigJSON {
	c = c.WithDefaults()
	base := c.Options
	return ConfigJSON{
		Small: small, Only: c.Only, NoRaw: c.NoRaw,
		Writers: c.Writers, NoSyncWriters: c.NoSyncWriters,
		Events: c.Events, EventsSingle: c.EventsSingle, Streams: c.Streams, Batch: c.Batch,
		FollowWriters: c.FollowWriters, Subscribers: c.Subscribers,
		LoadStreams: c.LoadStreams, LoadPerStream: c.LoadPerStream, LoadBatch: c.LoadBatch,
		Reads: c.Reads, Opens: c.Opens,
		DurationCapNs: int64(c.DurationCap), SettleNs: int64(c.Settle),
		Engine:       base.String(),
		SegmentBytes: c.Options.SegmentSize, SegmentPrep: c.Options.SegmentPrep.String(),
		IndexSlots: c.Options.IndexSlots, MappedWrites: c.Options.MappedWrites,
		RecordBytes: RecordSize, PayloadBytes: PayloadSize,
		RawRecordBytes: c.RawRecordSize, RawChunkBytes: c.RawChunk,
		PeakDiskBytes: c.PeakDiskBytes(),
	}
}

// JSON converts r.
func (r Result) JSON() ResultJSON {
	return ResultJSON{
		Key: r.Key(), Workload: r.Workload, Params: r.Params, Durability: r.Durability, Raw: r.Raw,
		Events: r.Events, WallS: Float(r.Seconds), EventsPerS: Float(r.EventsPerSec), PayloadMBPerS: Float(r.MBPerSec),
		P50Ns: int64(r.P50), P99Ns: int64(r.P99), P999Ns: int64(r.P999),
		XRaw: Float(r.XRaw), DeviceBytes: r.DevBytes, CommittedBytes: r.CommittedBytes, DeviceBPerB: Float(r.DevPerByte),
		XBase: Float(r.XBase), BaseName: r.BaseName, Capped: r.Capped, Notes: r.Notes,
	}
}

// Result converts j back.
func (j ResultJSON) Result() Result {
	return Result{
		Workload: j.Workload, Params: j.Params, Durability: j.Durability, Raw: j.Raw,
		Events: j.Events, Seconds: float64(j.WallS), EventsPerSec: float64(j.EventsPerS), MBPerSec: float64(j.PayloadMBPerS),
		P50: time.Duration(j.P50Ns), P99: time.Duration(j.P99Ns), P999: time.Duration(j.P999Ns),
		XRaw: float64(j.XRaw), DevBytes: j.DeviceBytes, CommittedBytes: j.CommittedBytes, DevPerByte: float64(j.DeviceBPerB),
		XBase: float64(j.XBase), BaseName: j.BaseName, Capped: j.Capped, Notes: j.Notes,
	}
}

// JSON converts r.
func (r Row) JSON() RowJSON {
	return RowJSON{ResultJSON: r.Result.JSON(), Rounds: r.Rounds, Spread: Float(r.Spread)}
}

// Row converts j back.
func (j RowJSON) Row() Row {
	return Row{Result: j.ResultJSON.Result(), Rounds: j.Rounds, Spread: float64(j.Spread)}
}

// NewReport assembles a report from a run's rounds; Summary is computed
// here so it always matches Rounds.
func NewReport(m Machine, facts []Fact, cfg ConfigJSON, started time.Time, wall time.Duration, rounds [][]Result) *Report {
	rep := &Report{
		Schema: ReportSchema, Version: ReportVersion,
		Started: started, WallS: Float(wall.Seconds()),
		Machine: m, Facts: facts, Config: cfg,
		Rounds: make([][]ResultJSON, len(rounds)), Summary: []RowJSON{},
	}
	for i, round := range rounds {
		rep.Rounds[i] = make([]ResultJSON, len(round))
		for j, r := range round {
			rep.Rounds[i][j] = r.JSON()
		}
	}
	for _, row := range Summarize(rounds) {
		rep.Summary = append(rep.Summary, row.JSON())
	}
	return rep
}

// Results returns the rounds as Results.
func (rep *Report) Results() [][]Result {
	out := make([][]Result, len(rep.Rounds))
	for i, round := range rep.Rounds {
		for _, j := range round {
			out[i] = append(out[i], j.Result())
		}
	}
	return out
}

// Rows returns the summary as Rows.
func (rep *Report) Rows() []Row {
	out := make([]Row, len(rep.Summary))
	for i, j := range rep.Summary {
		out[i] = j.Row()
	}
	return out
}
