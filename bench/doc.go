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
// background during the window — the one Open asks for, and one per roll —
// are charged to the workload, and the window ends only once no spare is
// half-prepared: that zero-fill is part of the cost of appending, and on a
// short run one 64 MiB spare weighs a lot, so the notes say how many spares
// were prepared and what the ratio is without their zero-fill. The raw
// log's preallocation happens before its window. The NoSync rows include
// the final Sync in the device window but not in the timing. The counter is
// the whole device's: other processes' writes count too.
//
// Latencies are kept exactly (one time.Duration per operation, per writer,
// merged and sorted at the end); quantiles are nearest-rank.
package bench
