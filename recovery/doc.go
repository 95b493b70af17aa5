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
// by a roll whose first group never became durable) and are removed. A
// segment that stops short while a later one holds records is damage
// below acknowledged data: Rebuild fails with a *segment.CorruptionError
// and changes nothing. That rule holds because the engine makes a
// segment's data durable before it writes any byte of the next one: an
// unsynced group never spans a roll on the device, whatever order
// write-back takes.
//
// # Torn tail or damage
//
// Every record carries the log position known durable when it was written
// (synced-through). A torn tail is the unsynced last group: none of its
// records claims more than where the group starts. So when the scan stops
// at position p, Rebuild looks for records that still verify after p (they
// identify themselves by their position) and takes the highest
// synced-through of those and of the records before p, and the old index's
// checkpoint. If that watermark is above p, bytes that were acknowledged as
// durable are damaged: Rebuild fails with a *segment.CorruptionError and
// changes nothing, instead of cutting acknowledged events away.
//
// # Replaying from the index checkpoint
//
// The engine flushes the index now and then with a checkpoint: a log
// position through which the log was durable and every index update was in
// the flushed slots. After a crash, Replay scans only the log after the
// checkpoint, follows each stream's chain on from its index entry, cuts
// the torn tail like Rebuild and updates the index. Slots may have reached
// the disk after the checkpoint, so an entry may already point past it; it
// must still name a record of its stream that the log holds. Anything that
// does not add up (a slot that does not validate, an entry past the end, a
// chain that does not continue from its entry) returns ErrReplayUnsafe
// before anything was changed, and the caller rebuilds from the whole log.
// Segments below the checkpoint are not read: damage there is found by
// reads (every record is verified when read) and by Verify, not by Open.
//
// # Cutting the tail
//
// Every nonzero byte after the end in the last segment is zeroed and
// synced before anything is appended again, and the kept log is synced
// (it may sit in the page cache only, after a killed process) before the
// new index claims it. Without that, a stale but
// intact record of the dropped tail could line up with the end of a future
// append and be read back as part of the log.
//
// # Verify and Truncate
//
// Verify reads a whole store without changing it: every record checksum,
// segment continuity, every stream chain (back-pointers, versions, skip
// pointers) and, after a clean close, the index's agreement with the log.
// Open does not do that much (after a clean close it scans nothing, after
// a crash only the log after the index checkpoint), so damage to older
// records surfaces when they are read, or by Verify. Truncate is the
// explicit repair when Open refuses damage below acknowledged data: it
// saves the damaged and the later segments aside as "*.broken" files and
// cuts the log before the damaged batch (spool recover --truncate).
package recovery
