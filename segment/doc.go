// Package segment defines Spool's log format: the segment file header, the
// record layout, encoding and checksum verification, the forward scan
// that finds where valid data in a segment ends and why, and compacted
// segments with their position map.
//
// # Log positions
//
// The log is one sequence of bytes split over fixed-size segment files. A
// log position is a 64-bit offset in that sequence; it never changes for a
// record. A segment holds the positions [Base, Base+used); the byte at file
// offset o of a segment is at position Base + o - HeaderSize. When a batch
// does not fit in the rest of a segment, the rest stays zero and the next
// segment's Base is the position where the previous one's data ended, so
// positions have no gaps. A compacted segment covers the range of the
// segments it replaced, [Base, End), but holds only the records that
// survived, found by position through its map (see below); the positions
// between them are gone for good.
//
// # Segment file
//
//	 0          HeaderSize (128)                                  file size
//	 +----------+-----------+-----------+-----+-----------+-------------+
//	 | header   | record    | record    | ... | zero hdr  | zeros ...   |
//	 +----------+-----------+-----------+-----+-----------+-------------+
//
//	header (little-endian):
//	 0  magic "SPOOLSEG"         8  format version u32   12 flags u32
//	 16 base position u64        24 file size u64        32 created (unix ns) i64
//	 40 end position u64    } compacted segments only (FlagCompacted);
//	 48 map offset u64      } zero in an ordinary segment
//	 56 map count u64       }
//	 64 map xxhash64 u64    }
//	 72 reserved, zero (48 bytes)                        120 xxhash64 of [0,120)
//
// # Compacted segment file
//
// Compaction rewrites a run of sealed segments, covering the positions
// [Base, End), into one file that keeps only the live records. Records
// keep their positions (back-pointers, index entries and checkpoints refer
// to them), so they can no longer sit at HeaderSize + pos - Base: they are
// copied verbatim, still carrying their own positions and checksums,
// packed in position order, and a position map finds them.
//
//	 0        128                          MapOffset-104  MapOffset     file size
//	 +--------+--------+--------+-----+--------+----------+-------------+
//	 | header | record | record | ... | record | zero hdr | map entries |
//	 +--------+--------+--------+-----+--------+----------+-------------+
//	          ^ packed, each padded to 8 bytes   ^ a forward reader sees "end"
//
//	header: flags = FlagCompacted (bit 0); Base and End bound the range
//	(End > Base: a compaction replaces at least one byte of the log); map
//	count = records in the file; map offset 8-aligned, and
//	map offset + 16 * map count = file size exactly (no slack).
//	map entry i (16 bytes): position u64 | file offset u64
//	  positions strictly increasing inside [Base, End); offsets strictly
//	  increasing from 128, each record filling [offset i, offset i+1)
//	  (the last one up to the zero header); a record spans as many
//	  positions as bytes, so position i+1 >= position i + its length.
//
// A position inside [Base, End) that the map does not list was dropped by
// compaction (or is not a record start). The map's checksum is checked
// when it is loaded (LoadPositionMap), each record's own checksum when it
// is read. FlagContinues means nothing in a compacted file: compaction may
// drop the last record of a batch, all of whose records were acknowledged
// before it ran.
//
// # Record
//
// Records start at 8-byte aligned offsets; each is padded with zeros to a
// multiple of 8 bytes.
//
//	 0  checksum u64   xxhash64 of bytes [8, size): every header field after
//	                   it and the whole body (a hash of 0 is stored as 1)
//	 8  size u32       header + body bytes, without padding
//	 12 flags u16      FlagContinues | FlagTombstone | FlagDeleted | FlagMetadata
//	 14 stream len u16
//	 16 position u64   the record's own log position (catches stale and
//	                   misdirected bytes)
//	 24 prev u64       position of the stream's previous record, or NoPosition
//	 32 skip u64       position of the stream's record of version SkipVersion,
//	                   or NoPosition (see SkipVersionFor)
//	 40 skip version u64
//	 48 version u64    stream version, starting at 0
//	 56 timestamp i64  unix nanoseconds when the writer took the batch
//	 64 event ID [16]
//	 80 type len u16   82 reserved u16 (zero)
//	 84 metadata len u32
//	 88 data len u32   92 reserved u32 (zero)
//	 96 synced through u64: a log position known durable when this record
//	                   was written; every byte before it was acknowledged
//	104 body: stream ID | event type | metadata | data | zero padding
//
// A header whose checksum and size are both zero marks the end of the data;
// the writer zeroes the next header slot after every append, so the end
// always reads as such. A zero checksum can never verify, so zeroed space is
// never mistaken for a record. Reserved fields and padding are zero; a record
// with anything else there does not decode.
//
// # System records
//
// A record with FlagMetadata is not an event but the store's bookkeeping
// for its stream (metadata; with FlagDeleted a soft delete, with
// FlagTombstone a hard delete). Its prev points at the stream's previous
// system record, not at an event, it has no skip pointer, and its version
// is the one the stream's next event gets: events and system records of a
// stream form two chains. Nothing of the stream follows a tombstone.
//
// # Batches
//
// The events of one append are consecutive records; every record but the
// last has FlagContinues. A batch never spans segments. A batch whose last
// record is missing was never acknowledged and is not part of the log.
package segment
