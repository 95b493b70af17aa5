// Package bench is Spool's benchmark harness: the workloads the peers were
// measured with (W1–W4 and the load L, see the peers' results in
// shared/reference/peers-results.md), the raw group-commit baseline
// ("raw-pre") measured in the same run, device write accounting, and a
// table printer. `spool bench` runs it from the command line; the
// `go test -bench` families in bench_test.go run the same code at small
// sizes.
//
// # Workloads
//
//	W1   C writer goroutines (1, 16, 256) each append one event at a time,
//	     durably (SyncEachCommit), expected version Any, to users/<i mod
//	     10000>. Latency is per Append.
//	W1b  one writer, 100 events per Append, durable.
//	W1c  W1 with Durability NoSync, C = 1 and 16.
//	S1   live follow: 16 durable writers (one event per Append) while one
//	     subscriber follows the log from its start. Latency is from the
//	     moment an event's Append returned to the moment the subscriber
//	     received it (0 when the subscriber was first: both wait for the
//	     same commit). The subscriber checks order and counts.
//	S2   W1 with 16 writers, first alone, then while 100 subscribers follow
//	     the log live; the second row states its events/s as a ratio of the
//	     first's. Every subscriber must see every acknowledged event.
//	L    the read workloads' store: 1,000 streams x 1,000 events, 10 events
//	     per Append, streams interleaved round robin, NoSync, then one Sync
//	     (inside the timed window).
//	W2   on the L store: a warm-up read of every stream, then 1,000 random
//	     whole streams read forward, then 1,000 backward; latency per stream;
//	     counts, stream names and version order are checked.
//	W3   ReadAll(0) of the L store; the loop counts events and touches no
//	     payload byte (the engine verifies every checksum). A second row
//	     scans with the stream-prefix filter "users/1" (about one stream in
//	     nine kept; the rest skipped from their headers): records scanned/s.
//	W5   Copy the L store's files while it is open and idle (what kill -9
//	     leaves: every write in the page cache, the index not marked clean)
//	     and Open the copy: recovery time, page cache warm. Runs before W4.
//	W4   Close the L store, then Open it again (clean) a few times: wall
//	     time and Store.OpenDuration.
//	W6   compaction: stores whose events are 50% and 90% dead (streams
//	     deleted) compacted alone (MB/s of the segment files rewritten);
//	     then 16 durable writers appending to a 90%-dead store: alone,
//	     while it compacts at full speed, and while it compacts at the
//	     engine's default rate (64 MiB/s).
//
// Events are 100-byte JSON payloads ({"user":123,"n":456,"pad":"xx…"}) of
// type "UserEvent", so an encoded record is 224 bytes.
//
// # The raw baseline
//
// RawLog is the peers' "raw-pre" prototype: one committer goroutine takes
// everything writers queued, writes it with one pwrite into a file that
// was zero-filled ahead (4 KiB pwrites, then fdatasync) and makes it
// durable with one fdatasync; writers wait for the fdatasync that covers
// their records. No timer, no checksum. Every durable row gets an
// "x raw" ratio: its events/s over the raw row with the same writer count
// (and the batch=100 variant for W1b), measured in the same round, because
// absolute numbers on a shared machine drift by ±10–30 %.
//
// # Device bytes
//
// Before and after each workload the harness reads /proc/diskstats for the
// block device behind the bench directory (found from stat(dir).Dev) and
// reports device bytes written per committed byte (record bytes: the
// store's Stats().Bytes delta, or the raw log's record bytes). Before each
// workload the harness waits (bounded, Config.Settle) until the device is
// quiet, so the write-back of earlier workloads is not charged to it; then
// it opens the store, whose first segment is created and synced inside
// Open, and starts the window. Spare segments the engine prepares in the
// background during the window — one once the active segment is half
// full, and one per roll — are charged to the workload, and the window ends only once no spare is
// half-prepared: that zero-fill is part of the cost of appending, and on a
// short run one 64 MiB spare weighs a lot, so the notes say how many spares
// were prepared and what the ratio is without their zero-fill. The raw
// log's preallocation happens before its window. The NoSync rows include
// the final Sync in the device window but not in the timing. The counter is
// the whole device's: other processes' writes count too.
//
// # Machine facts
//
// Every report starts with what a number depends on (Measure,
// Config.Facts): platform and GOARM/GOAMD64 level, Go version, CPU model,
// cores and GOMAXPROCS, RAM, kernel, the file system of the bench
// directory with its mount options, the block device behind it (model or
// driver, rotational or not, I/O scheduler, from /sys/block), the
// durability mode of each workload, the event and record size, and the
// sizes of the stores. What the machine does not show (non-Linux systems,
// tmpfs, containers without sysfs) reads "unknown" rather than being left
// out.
//
// # Small boards
//
// SmallConfig (`spool bench --small`) runs every workload at sizes for a
// board with at most 2 GB of disk and 512 MB of RAM: 20,000 events per
// append run (2,000 with one writer), W1 writers 1, 16 and 64, an L store
// of 200 streams x 1,000 events, 200 W2 reads, 20 S2 subscribers and
// 16 MiB segments. Config.PeakDiskBytes estimates the disk a run needs.
//
// # JSON reports
//
// `spool bench --json FILE` writes a Report: one JSON object with
//
//	schema         "spool-bench"
//	version        1; it changes only when a field is removed or changes
//	               meaning. Fields may be added within a version: readers
//	               ignore what they do not know.
//	started        RFC 3339 time; wall_s: seconds of all rounds
//	spool_version  git describe of a release build, else the VCS revision or "devel"
//	machine        Machine: goos, goarch, goarm, go_version, cpu_model, cpus,
//	               gomaxprocs, memory_bytes (0 = unknown), kernel, fs_type,
//	               fs_source, mount_point, mount_options, device,
//	               device_number, disk, device_model, rotational
//	               ("yes"/"no"/"unknown"), scheduler, device_error
//	facts          [{name, value}]: the text header's lines, in order
//	config         ConfigJSON: the sizes after defaults, small, engine
//	               options (segment_bytes, index_slots…), peak_disk_bytes
//	rounds         [[row…]…]: every round's rows in suite order
//	summary        [row…]: medians over the rounds, plus rounds and spread
//	incomplete     the error that stopped the run, absent when it finished
//
// A row (ResultJSON) has key (workload|params|durability), workload,
// params, durability, raw, events, wall_s, events_per_s, payload_mb_per_s,
// p50_ns, p99_ns, p999_ns, x_raw, device_bytes (-1 = unknown),
// committed_bytes, device_bytes_per_committed_byte, x_base, base_name,
// capped and notes. Units are in the names; 0 means "not measured" for
// rates and latencies, and null stands for an unknown number (NaN).
//
// `spool bench compare A.json B.json` (Compare, WriteComparison) matches
// rows by key and prints A's and B's medians of events/s, p50 and p99 with
// each side's spread over its rounds, and B/A. A ratio within the two
// spreads added is marked "~" (not significant, as benchstat prints it);
// with one round on each side there is no noise estimate and the ratio is
// marked "?". Rows only one side has are listed as such, and the facts in
// which the reports differ are printed above the table.
//
// `spool bench --report DIR` (WriteHTMLReport) writes index.html with the
// facts, the table and SVG charts drawn with gonum.org/v1/plot (W1 events/s
// by writer count for the engine and raw-pre, latency quantiles per row,
// W3 scan rates), and report.json beside them.
//
// Latencies are kept exactly (one time.Duration per operation, per writer,
// merged and sorted at the end); quantiles are nearest-rank.
package bench
