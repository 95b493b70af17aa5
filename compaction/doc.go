// Package compaction rewrites sealed segments without their dead records
// (deleted, truncated or expired streams) and swaps the result in, crash
// safely.
//
// # What it does
//
// Rewrite takes a run of consecutive sealed segments — ordinary or already
// compacted, never the segment being written — and a keep predicate the
// engine supplies (liveness is the engine's business), and writes one
// compacted segment covering the run's whole range that holds only the
// records kept. Records are copied byte for byte and keep their log
// positions: the compacted file carries a position map, so back-pointers,
// index entries and checkpoints stay valid. The file layout is drawn in
// the segment package doc (segment/doc.go, "Compacted segment file").
//
// Rewrite reads the run twice: first it verifies every record and asks the
// keep predicate once per record, remembering the answers (one bit each),
// which gives the exact size of the new file; then it reads the run again,
// verifying every record anew, and copies the kept ones. Plan chooses runs from per-segment statistics (Measure), and
// Cleanup finishes or undoes a compaction a crash interrupted.
//
// # Crash safety
//
// For a run s0 … sn covering [s0.Base, sn.End), Rewrite
//
//  1. creates TempName(s0.Base) ("<s0>.seg.compact") at its exact size,
//  2. writes the kept records, the end marker, the map and the header,
//  3. syncs the whole file,
//  4. renames it over s0 (rename(2) replaces atomically; readers that
//     hold s0's mapping keep reading the old file),
//  5. syncs the directory: the compaction has happened,
//  6. removes s1 … sn and syncs the directory again.
//
// A crash before the rename is durable leaves the old segments intact,
// plus perhaps the temp file: Cleanup removes it (roll back). A crash
// after it leaves the compacted file, complete and synced (step 3 came
// first), under s0's name, plus perhaps some of s1 … sn: their bases lie
// inside the compacted file's range, by which Cleanup recognises and
// removes them (roll forward). The name of the compacted file is that of
// the first segment it replaced, so a listing stays in log order and
// every position is covered by exactly one segment once Cleanup has run.
// A Store must run Cleanup before it lists its segments.
//
// Cancellation (through the context) is honoured up to step 3: the temp
// file is removed and nothing else changed. From the rename on, Rewrite
// completes; an error there wraps ErrSwapIncomplete, and Cleanup finishes
// the job at the next Open.
//
// # Concurrency
//
// Rewrite only reads its sources and never writes a segment that exists:
// it can run while the engine appends to the newest segment and readers
// read old ones. Swapping the new file into the engine's list of segments,
// and retiring the old mappings once their readers are done, is the
// engine's part.
package compaction
