package engine

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// Durability chooses when an append is acknowledged, and so what an
// acknowledged append survives.
type Durability int

const (
	// SyncEachCommit acknowledges an append only after msync(MS_SYNC) of the
	// pages holding its records returned: acknowledged events survive a
	// process crash and a power cut. Concurrent appends share one msync
	// (group commit). The default.
	SyncEachCommit Durability = iota
	// SyncInterval acknowledges an append once it is in the mapping and
	// msyncs every Options.SyncInterval: acknowledged events survive a
	// process crash; a power cut loses at most the last interval's.
	SyncInterval
	// NoSync acknowledges an append once it is in the mapping and msyncs
	// only on Sync and Close, and a segment when the log rolls past it:
	// acknowledged events survive a process crash (the kernel still holds
	// the pages), not a power cut. The append that rolls waits for that
	// segment's writeback (0.1–0.6 s for 64 MiB written at full speed on
	// this project's test disk; see the README), so that recovery never
	// finds a torn segment below another.
	NoSync
)

func (d Durability) String() string {
	switch d {
	case SyncEachCommit:
		return "SyncEachCommit"
	case SyncInterval:
		return "SyncInterval"
	case NoSync:
		return "NoSync"
	}
	return fmt.Sprintf("Durability(%d)", int(d))
}

// Limits on input, checked by Append.
const (
	MaxStreamIDLen     = 1024   // bytes
	MaxEventTypeLen    = 1024   // bytes
	MaxEventsPerAppend = 100000 // events in one Append
)

// Defaults for zero Options fields.
const (
	// DefaultSegmentSize is 64 MiB on 64-bit platforms and 16 MiB on 32-bit
	// ones, where address space is scarce.
	DefaultSegmentSize  = segment.DefaultFileSize
	DefaultSyncInterval = 50 * time.Millisecond
	DefaultIndexSlots   = 1 << 16
	// DefaultMaxMappedBytes is 512 MiB on 32-bit platforms, a sixth of a
	// 3 GiB user address space that the heap, the index and the stacks
	// share, and 512 PiB (no cap) on 64-bit ones.
	DefaultMaxMappedBytes = int64(512<<20) << (bits.UintSize / 64 * 30)
	minSegmentSize        = segment.MinFileSize
	// maxSegmentSize is 1 GiB on 64-bit platforms and 256 MiB on 32-bit
	// ones: the store maps up to two segments under the default cap plus
	// the spare being prepared, three times the segment size, which for
	// 1 GiB segments is more than a 32-bit address space holds (the first
	// spare that no longer maps fails the store).
	maxSegmentSize = 1 << 30 >> ((64 - bits.UintSize) / 16)
	// maxIndexSlots bounds the initial index: 768 MiB, zero-filled at
	// Open, one mapping even on 32-bit platforms. The index grows past it
	// by doubling as streams come.
	maxIndexSlots = 1 << 24
)

// Options configure a Store. The zero value (or nil) means defaults.
type Options struct {
	// Durability is when appends are acknowledged; see the constants.
	Durability Durability
	// SyncInterval is how often SyncInterval mode msyncs.
	SyncInterval time.Duration
	// SegmentSize is the size of each segment file, between 64 KiB and
	// 1 GiB (256 MiB on 32-bit platforms) and a multiple of 8. A batch of
	// events must fit in one segment. It applies to new segments; existing
	// ones keep their size.
	SegmentSize int64
	// IndexSlots is the initial number of index slots (rounded up to a
	// power of two, at most 1<<24, 48 bytes each); the index grows by
	// doubling.
	IndexSlots uint64
	// MaxMappedBytes caps the bytes of segment mappings the store keeps:
	// past it, sealed segments nobody reads are unmapped (least recently
	// used first) and mapped again when a reader reaches them, so a store
	// larger than a 32-bit address space works. Mappings in use are never
	// taken away: every log reader holds the segment it reads, a stream
	// read the segments of one chunk of events (a quarter of the cap's
	// segments, at least 4, plus 2), and the writer the segments it has not
	// synced yet; while they alone need more, the store maps more. The
	// index file's mapping and the spare segment being prepared come on
	// top. At least twice SegmentSize; by default DefaultMaxMappedBytes or
	// twice SegmentSize, whichever is larger. On 32-bit platforms a failed
	// mapping (address space exhausted) while the writer updates the index
	// fails the store, like any other write-path error.
	MaxMappedBytes int64
	// SegmentPrep chooses how new segment files are prepared; see
	// mmapfile.Prep. Zero-fill by default.
	SegmentPrep mmapfile.Prep
	// MappedWrites makes SyncEachCommit appends store their records through
	// the mapping, as the other modes do, instead of staging them for the
	// committer to write with one pwrite per group. It exists to measure
	// the difference: on Linux, making pages dirtied through a mapping
	// durable costs several times more (see README, "Write path").
	MappedWrites bool
	// Storage replaces the directory as the place files live; tests use it
	// for simulated storage. When set, the dir argument of Open only names
	// the store in messages.
	Storage mmapfile.FS
}

// withDefaults returns a copy of o (nil allowed) with zero fields set.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.SegmentSize == 0 {
		c.SegmentSize = DefaultSegmentSize
	}
	if c.IndexSlots == 0 {
		c.IndexSlots = DefaultIndexSlots
	}
	if c.MaxMappedBytes == 0 {
		// Segments larger than a quarter of the default raise it: the
		// writer may hold two.
		c.MaxMappedBytes = max(DefaultMaxMappedBytes, 2*c.SegmentSize)
	}
	return c
}

// Validate reports the first invalid field of o after defaults are applied.
func (o *Options) Validate() error {
	c := o.withDefaults()
	switch {
	case c.Durability < SyncEachCommit || c.Durability > NoSync:
		return fmt.Errorf("%w: unknown durability %d", ErrInvalidOptions, int(c.Durability))
	case c.SyncInterval < 0:
		return fmt.Errorf("%w: negative sync interval %v", ErrInvalidOptions, c.SyncInterval)
	case c.SegmentSize < minSegmentSize || c.SegmentSize > maxSegmentSize:
		return fmt.Errorf("%w: segment size %d outside [%d, %d]", ErrInvalidOptions, c.SegmentSize, minSegmentSize, maxSegmentSize)
	case c.SegmentSize%8 != 0:
		return fmt.Errorf("%w: segment size %d is not a multiple of 8", ErrInvalidOptions, c.SegmentSize)
	case c.MaxMappedBytes < 2*c.SegmentSize:
		return fmt.Errorf("%w: max mapped bytes %d below two segments of %d", ErrInvalidOptions, c.MaxMappedBytes, c.SegmentSize)
	case c.IndexSlots > maxIndexSlots:
		return fmt.Errorf("%w: %d initial index slots, at most %d (the index grows as streams come)", ErrInvalidOptions, c.IndexSlots, maxIndexSlots)
	case c.SegmentPrep != mmapfile.PrepZeroFill && c.SegmentPrep != mmapfile.PrepFallocate:
		return fmt.Errorf("%w: unknown segment preparation %d", ErrInvalidOptions, int(c.SegmentPrep))
	}
	return nil
}

// String prints the options with defaults applied, for logs and benchmark
// reports.
func (o *Options) String() string {
	c := o.withDefaults()
	s := fmt.Sprintf("durability=%v segment=%s prep=%v index-slots=%d", c.Durability, sizeString(c.SegmentSize), c.SegmentPrep, c.IndexSlots)
	if c.MaxMappedBytes != DefaultMaxMappedBytes || bits.UintSize == 32 {
		s += " max-mapped=" + sizeString(c.MaxMappedBytes)
	}
	switch {
	case c.Durability == SyncInterval:
		s += fmt.Sprintf(" sync-interval=%v", c.SyncInterval)
	case c.Durability == SyncEachCommit && c.MappedWrites:
		s += " writes=mapped"
	}
	if c.Storage != nil {
		s += " storage=custom"
	}
	return s
}

// maxBatchBytes is the largest encoded batch a segment of this size holds.
func maxBatchBytes(segmentSize int64) int64 { return segmentSize - segment.HeaderSize }

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
