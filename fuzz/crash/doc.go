// Package crash tests the engine against simulated power loss: seeded
// random crash states and systematic crash points over mmapfile/simfs.
// The package holds tests only.
//
// A crash state is one run of a seeded workload (concurrent appends of
// varied sizes, multi-event batches, expected-version conflicts, retries,
// reads, clean reopens) over a fresh simfs.FS, cut off after the k-th
// storage operation or between calls, settled by a crash (each unsynced
// page old, new or torn; each unsynced directory change kept or
// reverted), reopened and checked against a model of what was
// acknowledged:
//
//   - every acknowledged event reads back byte-identical, at its position
//     and version, through ReadAll, ReadStream forward and backward;
//   - nothing unissued, rejected or duplicated is returned, and a batch
//     is there whole or not at all;
//   - each stream's versions run from 0 without gaps, in issue order;
//   - recovery is idempotent: a second crash right after recovery, with
//     no writes, reopens to the identical log;
//   - after a write-path failure (an injected sync error) nothing more
//     is acknowledged;
//   - the recovered store accepts appends.
//
// Replaying: a failure prints its seed and the go test command that runs
// that state alone. The engine's own goroutines (committer, spare
// preparer) make the interleaving of storage operations, and so the exact
// crash point, vary between runs; add -count=N to retry a seed.
//
//	go test ./fuzz/crash                                 # default states
//	go test ./fuzz/crash -run RandomCrashStates -crash.states=20000
//	go test ./fuzz/crash -crash.seed=0                   # a fresh random base seed
package crash
