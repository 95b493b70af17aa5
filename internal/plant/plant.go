// Package plant plants known bugs into Spool, for the sensitivity test of
// the crash harness (fuzz/crash): a harness that cannot find a planted
// durability bug proves nothing when it finds none.
//
// Without the build tag spool_sensitivity, On is a constant false and the
// compiler removes every planted branch; with it, tests choose one bug at
// a time with Set.
package plant

// Bug names one planted bug.
type Bug string

// The planted bugs. Each is a mistake a storage engine could plausibly
// make; the harness must catch every one.
const (
	// AckBeforeSync acknowledges a commit group without msyncing it.
	AckBeforeSync Bug = "ack-before-msync"
	// SyncPageShort msyncs each range one page short of its end.
	SyncPageShort Bug = "msync-one-page-short"
	// NoDirSyncNewSegment skips the directory sync after a new segment is
	// renamed into place.
	NoDirSyncNewSegment Bug = "no-dir-sync-after-new-segment"
	// TrustLength trusts a record's length (and content) without checking
	// its checksum.
	TrustLength Bug = "trust-length-before-checksum"
	// CutBelowWatermark cuts the log at damage even when records prove the
	// log was durable past it.
	CutBelowWatermark Bug = "truncate-below-watermark"
	// ChecksumSkipsHeader computes record checksums over the body only.
	ChecksumSkipsHeader Bug = "checksum-skips-header"
	// RetryFailedSync retries a failed msync and goes on when the retry
	// succeeds (the kernel marked the lost pages clean: it does).
	RetryFailedSync Bug = "retry-msync-after-error"
	// ZeroedTailUnsynced leaves the torn tail a recovery zeroed in the
	// page cache only: the device keeps the old bytes past the log end.
	ZeroedTailUnsynced Bug = "zeroed-tail-not-synced"
)

// All lists every planted bug.
var All = []Bug{AckBeforeSync, SyncPageShort, NoDirSyncNewSegment, TrustLength, CutBelowWatermark, ChecksumSkipsHeader, RetryFailedSync, ZeroedTailUnsynced}
