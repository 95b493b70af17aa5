// Package fuzz holds Spool's native Go fuzz targets for everything that
// reads bytes from disk. It has no API; the targets are in its tests.
//
// # Targets
//
//   - FuzzRecordDecode: segment.Decode and segment.Peek over any bytes at
//     any offset (negative and past the end too) and position. They return
//     a record or a *segment.CorruptionError at that offset; never panic,
//     write to their input or allocate on success. An accepted record
//     satisfies the field invariants, aliases only its own bytes, agrees
//     with Peek, re-encodes to exactly the same bytes and verifies at no
//     other position.
//   - FuzzSegmentScan: one or two segment files (a valid header over fuzzed
//     bytes, or fuzzed bytes alone) are scanned with segment.Scanner, whose
//     result must match the records it reported, then written to a
//     directory and recovered with recovery.Rebuild. Rebuild either refuses
//     with a corruption error and changes nothing, or leaves a log that
//     rescans to its reported end with zeros after it, removes only
//     trailing empty segments, and an index that validates and points at
//     each stream's newest record.
//   - FuzzIndexOpen: hashindex.Open of any file either refuses it
//     (ErrInvalid) or yields an index whose Validate, Lookup and All end
//     with a result or a *CorruptionError within the slot count. A
//     validated index finds every entry All yields and stays valid across
//     Puts, growth included.
//   - FuzzDirectoryOpen: a store directory (segments, index, spare and
//     scratch files, from a small archive format in the input) opened with
//     engine.Open either fails with a corruption error or opens; then
//     ReadAll and ReadStream (both directions) over every stream end with
//     events or a corruption error, every record returned re-decodes and
//     verifies with the same content, and after a rebuild the stream reads
//     agree with the log read. Optionally an event is appended and the
//     store closed and reopened, which must then be clean and hold it.
//
// Every input runs on its own goroutine under a deadline (a hang fails with
// all goroutine stacks) and an allocation budget of a fixed allowance plus
// a few times the input size, counted from runtime.MemStats: an allocation
// sized by an unverified length field exceeds it. Fuzzed bytes can be
// re-sealed (checksums recomputed) before use, selected by a mode argument,
// so that mutations reach the checks behind the checksums: back-pointers,
// versions, synced-through watermarks, probe order.
//
// # Seeds
//
// testdata/fuzz/<Target>/ holds the seed corpus, which plain go test runs
// through each target. Generated seeds are named after the outcome they
// were built for ("ok-", "corrupt-", "invalid-", "clean-", "rebuilt-"...),
// and TestSeedOutcomes checks that they still reach it. Regenerate them
// after a format change with
//
//	go test ./fuzz -run=TestWriteSeedCorpus -fuzz.update
//
// Inputs the fuzzer finds keep their hash names; commit a failing one as a
// regression seed.
//
// # Running
//
// One target at a time (go test accepts one -fuzz target per run):
//
//	go test ./fuzz -run=^$ -fuzz=FuzzDirectoryOpen -fuzztime=30s
//
// or all of them in turn with fuzz/run.sh (FUZZTIME, default 30s, per
// target). Inputs write files; TMPDIR=/dev/shm makes them several times
// faster. A short -fuzzminimizetime keeps short runs fuzzing instead of
// minimizing each new input for up to a minute.
package fuzz
