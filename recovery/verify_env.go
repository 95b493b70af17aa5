package recovery

import (
	"errors"
	"fmt"
	"syscall"
)

// A segment or index that cannot be opened says something about the store
// only when its bytes are the reason (an empty file, a size no segment
// has, a damaged header or map). When the operating system refused
// (EMFILE, ENOMEM, EACCES, a file removed meanwhile), Verify learned
// nothing about it: reporting it as damage, with its range as lost, would
// send a caller to repair a store that may be whole. Such a failure stops
// Verify with an error instead.

// osRefused reports whether err is the operating system refusing an
// operation rather than a verdict on the file's contents.
func osRefused(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno)
}

// refused records the first operating-system failure of the run; Verify
// returns it, and the scan stops at the next segment.
func (v *verifier) refused(file string, err error) {
	if v.err == nil {
		v.err = fmt.Errorf("cannot open %s: %w", file, err)
	}
}
