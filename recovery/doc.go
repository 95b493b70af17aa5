// Package recovery brings a store directory back to a consistent state
// when it was not closed cleanly: it scans the log, finds where the
// acknowledged prefix ends, cuts what follows, and rebuilds the hash index
// from the log (the index is derived data).
//
// # Where the log ends
//
// Segments are scanned in base order. Each must continue exactly where the
// previous one's data ended. The scan of a segment stops at a zeroed record
// header, at the end of its space, or at bytes that do not verify (torn
// writes of an unacknowledged group); a batch whose last record is missing
// is dropped whole. The end of the log is the end of the last complete
// batch of the last non-empty segment; later segments must be empty (made
// by a roll whose first group never became durable) and are removed.
// A segment that stops short while a later one holds records is damage
// below acknowledged data: Rebuild fails with a *segment.CorruptionError
// and changes nothing.
//
// # Cutting the tail
//
// Every nonzero byte after the end in the last segment is zeroed and
// synced before anything is appended again. Without that, a stale but
// intact record of the dropped tail could line up with the end of a future
// append and be read back as part of the log.
package recovery
