//go:build linux || darwin

package mmapfile

import (
	"os"
	"sync/atomic"
)

// prepare turns read-ahead off for a freshly reserved file and faults each
// of its pages into the page cache once, reading only.
//
// Why: on ext4 the page cache may hold a file in large folios (up to 2 MiB,
// created by read-ahead or by large writes), and a single 4 KiB store
// through the mapping then dirties — and msync writes back — the whole
// folio: measured here, ~1 MiB written and ~800 µs per 4 KiB commit. Pages
// created by a fault with read-ahead off are 4 KiB folios. Read-ahead stays
// off for the mapping: callers that later scan the file sequentially may
// Advise otherwise once they no longer write to it.
func prepare(b []byte) {
	if len(b) == 0 {
		return
	}
	advise(b, AdviseRandom)
	if populateRead(b) {
		return
	}
	touchPages(b)
}

// touchPages faults in every page of b by reading one byte of each.
func touchPages(b []byte) {
	page := os.Getpagesize()
	var sink byte
	for off := 0; off < len(b); off += page {
		sink |= b[off]
	}
	prepared.Store(uint32(sink)) // keep the loads from being optimised away
}

// prepared receives the bytes read by touchPages.
var prepared atomic.Uint32
