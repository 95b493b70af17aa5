package segment

import "math/bits"

// Segment file sizes: the engine's default and smallest, here so that
// recovery, which creates a segment when a cut leaves the log ending in a
// compacted one, sizes it as the engine would.
const (
	// DefaultFileSize is 64 MiB on 64-bit platforms and 16 MiB on 32-bit
	// ones, where address space is scarce.
	DefaultFileSize = 64 << 20 >> ((64 - bits.UintSize) / 16)
	// MinFileSize is the smallest segment the engine creates.
	MinFileSize = 64 << 10
)
