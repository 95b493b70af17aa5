package engine

// progressPanic holds a panic raised by a caller's CompactOptions.Progress.
//
// Progress is called deep inside a compaction: while a segment is held
// for the survey, while the compacted file is open, after the rename that
// put it in place but before the store's segment list knows of it. A
// panic unwinding from there would skip that bookkeeping and leave the
// store reading files that no longer hold what its list says. So the
// panic is caught at the call, the run is cancelled, and Compact raises it
// again when it returns, after every step it took has been finished or
// undone.
type progressPanic struct {
	panicked bool
	value    any
}

// call runs fn(p). If fn panics, the panic is held and cancel is called;
// later calls are not made (the caller checks panicked).
func (h *progressPanic) call(fn func(CompactProgress), p CompactProgress, cancel func()) {
	defer func() {
		if r := recover(); r != nil {
			h.panicked, h.value = true, r
			cancel()
		}
	}()
	fn(p)
}

// raise panics again with the held value, if any. Deferred first in
// Compact, so that it runs last.
func (h *progressPanic) raise() {
	if h.panicked {
		panic(h.value)
	}
}
