// Package hashindex is Spool's stream index: a persistent open-addressed
// hash table in one memory-mapped file (reached only through mmapfile),
// mapping a stream's 128-bit fingerprint to the log position of its newest
// record, its last version, a state and an auxiliary word.
//
// The index is derived data; the log is the truth. Whenever the file is in
// doubt (Open fails with ErrInvalid, Validate or a Lookup reports a
// *CorruptionError, the checkpoint is ahead of the log, or Clean reports
// false after a power cut; see Durability), the caller rebuilds it from the
// log with Create and Put.
//
// # File format
//
// Little-endian throughout, encoded field by field with encoding/binary.
// The header region is a fixed 4096 bytes, not the OS page size, so a file
// is portable between machines with different page sizes.
//
//	offset 0                          4096        4096+48     4096+48*slots
//	+---------------------------------+-----------+-----+-----------+
//	| header (64 bytes used, rest 0)  | slot 0    | ... | slot N-1  |
//	+---------------------------------+-----------+-----+-----------+
//
//	header
//	 0               8         12        16                24
//	+---------------+---------+---------+-----------------+
//	| magic         | version | byte-   | slot count      |
//	| "SPOOLIDX"    | u32 = 1 | order   | u64, power of 2 |
//	|               |         | tag u32 | >= 16           |
//	+---------------+---------+---------+-----------------+
//	 24              32                40        44        48
//	+---------------+-----------------+---------+---------+
//	| count u64     | checkpoint u64  | clean   | last    |
//	| (non-empty    | (log position   | u32     | u32     |
//	|  slots)       |  indexed up to) | 1=clean |         |
//	+---------------+-----------------+---------+---------+
//	 48              56                64
//	+---------------+-----------------+
//	| annotated u64 | checksum u64 =  |
//	| (slots with a | xxhash64(0:56)  |
//	|  nonzero aux) |                 |
//	+---------------+-----------------+
//
//	slot (48 bytes, so every u64 is 8-byte aligned)
//	 0          8          16         24         32         40  41   44     48
//	+----------+----------+----------+----------+----------+---+----+------+
//	| fp.Hi    | fp.Lo    | tail u64 | version  | aux u64  | st| 0  | check|
//	| u64      | u64      | log pos  | u64 (i64 |          | u8| x3 | u32  |
//	|          |          |          |  bits)   |          |   |    |      |
//	+----------+----------+----------+----------+----------+---+----+------+
//	check = low 32 bits of xxhash64(slot[0:44]); st = 1 live, 2 deleted,
//	3 tombstoned; an empty slot is 48 zero bytes.
//
// last is the length of the log record that ends at the checkpoint (see
// Index.CheckpointRecordLen), so that a clean index can be checked
// against the log with one record read; 0 when not recorded. Files written
// before the field existed hold 0 there (it was reserved); older versions
// of Spool, which required that 0, reject a newer file as invalid, and
// their Open rebuilds the index from the log.
//
// The byte-order tag 0x01020304 is written little-endian; a writer that
// stored it in big-endian native order is recognised and rejected. A slot's
// checksum does not depend on its position, so growth copies slots whole.
// The header checksum lets Open reject a torn or foreign header without
// reading the slots; the slot checksum catches a torn slot (slots straddle
// 4 KiB page boundaries, so a power cut can tear one) and random damage
// such as a bit flip (missed with probability 2^-32).
//
// # Hashing
//
// A fingerprint is xxhash64 (Hi) and metro64 (Lo) of the stream ID; (0,0) is
// remapped to (0,1) because it marks empty slots. The home bucket is
// fp.Hi & (slots-1); probing is linear with wrap-around. Entries are only
// inserted or overwritten, never removed (a deleted stream keeps its slot
// with a state), so no tombstones are needed and an empty slot ends every
// probe. Two streams with the same fingerprint take separate slots: a
// fingerprint match is confirmed by the caller's MatchFunc, which reads the
// record at the entry's tail and compares stream IDs; a false answer
// continues the probe. Put grows the table to twice its size before an
// insert would exceed a load factor of 0.75 (see grow.go for the crash-safe
// swap).
//
// # Durability
//
// In the engine's SyncEachCommit mode the index is updated only after the
// records it points to are durable, so whatever slot reaches the disk early
// points at a real record; in its other modes a slot may point past what a
// power cut left of the log, which recovery checks (recovery.Replay). The
// header tells recovery whether the slots can be trusted:
//
//   - The first Put after Open, Create or Flush(clean=true) writes clean=0
//     into the header and syncs the header page before changing any slot.
//   - Flush(checkpoint, recordLen, clean) syncs every slot page first,
//     then writes the checkpoint, last and the flag into the header and
//     syncs the header page, so the header never claims slots that are
//     not on disk.
//   - Create and growth build a complete file under a scratch name, sync it,
//     rename it into place and sync the directory; Create and Open delete
//     stale scratch files. A growth's scratch file may have been created
//     ahead of it (PrepareGrowth), zeros that nothing refers to until the
//     rename. A growth's sync, rename and directory sync run in the
//     background while Puts go on into the new table (its header keeps the
//     old checkpoint, unclean, as the old file on disk does meanwhile);
//     Flush waits for them before it writes a header.
//
// After a process crash the page cache keeps every completed store, and the
// header count is kept exact on every insert, so such a file normally
// passes Validate; replaying the log from its checkpoint (Put is idempotent
// in log order) then brings it up to date. After a power cut the slots may
// be any mix of old and new pages and Validate proves little: an unclean
// index should be rebuilt.
//
// A failed msync, rename or directory sync is sticky: the kernel may have
// dropped the dirty pages, so every later Put and Flush returns the error.
//
// # Concurrency
//
// Any number of goroutines may call Lookup (and LookupSlot), Len, Slots,
// Checkpoint, Clean, Validate and All while Put (and PutSlot) and Flush run
// (they exclude each other); PrepareGrowth and GrowthAhead may run
// alongside all of them, and PrepareGrowth alongside Close. Lookups hold a
// read lock for the whole probe (MatchFunc included); Put takes the write
// lock only to store a slot and to swap tables after a growth, so a
// growth's copy and Flush's msyncs do not block Lookups. Close must not
// race with anything.
//
// # Faults
//
// Create, Open, Lookup, Put, Flush, Validate, All and PrepareGrowth touch
// mapped memory, which faults (SIGBUS) if the file was truncated
// underneath or a page cannot be read back. Callers run index methods
// inside mmapfile.Guard, which turns such a fault into an error; this
// package does not guard itself, so that one Guard can cover a whole batch
// of work. Locks are released by deferred calls, so a fault unwinding
// through a method leaves the index unlocked.
package hashindex
