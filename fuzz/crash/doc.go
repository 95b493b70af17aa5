// Package crash tests the engine against simulated power loss: seeded
// random crash states and systematic crash points over mmapfile/simfs.
// The package holds tests only.
//
// A crash state is one run of a seeded workload (concurrent appends of
// varied sizes, multi-event batches, expected-version conflicts, retries,
// reads, Syncs, clean reopens) over a fresh simfs.FS in one durability
// mode (SyncEachCommit staged or mapped, SyncInterval, NoSync: see
// mode_test.go), cut off after the k-th storage operation, right after
// the k-th acknowledged append, or between calls, settled by a crash
// (each unsynced page old, new or torn; each unsynced directory change
// kept or reverted), reopened and checked against a model of what was
// acknowledged and what was promised: in SyncEachCommit every
// acknowledged append, in the other modes those acknowledged before a
// Sync or Close that returned nil began.
//
//   - every promised event reads back byte-identical, at its position
//     and version, through ReadAll, ReadStream forward and backward;
//   - what else survives is a prefix, in log order, of what was
//     acknowledged: no hole, whatever the mode;
//   - nothing unissued, rejected or duplicated is returned, and a batch
//     is there whole or not at all;
//   - each stream's versions run from 0 without gaps, in issue order;
//   - recovery is idempotent: a second crash right after recovery, with
//     no writes, reopens to the identical log;
//   - any storage operation may fail once (faults_test.go), in the
//     workload or in the recovery after the crash; after the store
//     reports a failure nothing more is acknowledged and every call fails
//     with ErrFailed; a recovery that fails leaves a directory the next
//     one recovers;
//   - the recovered store accepts appends.
//
// Beside the random states: systematic crash points (every storage
// operation of canonical workloads in each durability mode, also inside
// recovery), corruption
// states (one acknowledged record damaged on the device: bit flip, zeroed
// or random sector, misdirected or dropped page; it must be reported) and
// mapping faults (a page that faults when the engine touches it fails the
// store, and recovery gives back everything acknowledged).
//
// Replaying: a failure prints its seed and the go test command that runs
// that state alone; the seed draws the mode too. The engine's own
// goroutines (committer, spare preparer) make the interleaving of storage
// operations, and so the exact crash point, vary between runs; add
// -count=N to retry a seed.
//
//	go test ./fuzz/crash                                 # default states
//	go test ./fuzz/crash -run RandomCrashStates -crash.states=20000
//	go test ./fuzz/crash -crash.seed=0                   # a fresh random base seed
package crash
