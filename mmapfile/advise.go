//go:build linux || darwin

package mmapfile

import "golang.org/x/sys/unix"

// advise applies a page-aligned madvise hint; failures are ignored because
// hints never change correctness.
func advise(b []byte, advice Advice) {
	var a int
	switch advice {
	case AdviseRandom:
		a = unix.MADV_RANDOM
	case AdviseSequential:
		a = unix.MADV_SEQUENTIAL
	case AdviseWillNeed:
		a = unix.MADV_WILLNEED
	case AdviseWillWrite:
		populateWrite(b)
		return
	default:
		a = unix.MADV_NORMAL
	}
	_ = unix.Madvise(b, a)
}
