//go:build spool_sensitivity

package plant

import "sync/atomic"

var planted atomic.Pointer[Bug]

// On reports whether bug is planted.
func On(bug Bug) bool {
	p := planted.Load()
	return p != nil && *p == bug
}

// Set plants bug (none for "") until the returned function restores the
// previous one.
func Set(bug Bug) (restore func()) {
	old := planted.Load()
	if bug == "" {
		planted.Store(nil)
	} else {
		planted.Store(&bug)
	}
	return func() { planted.Store(old) }
}
