package crash

import (
	"errors"
	"iter"

	"github.com/spooldb/spool/engine"
)

// probeFailed checks a store that reported a write-path failure
// (engine.ErrFailed) to a worker: every call must now fail with
// ErrFailed, and an append must not be acknowledged (reads too: the
// failed store may have lost pages its mapping still shows). The append
// is recorded as maybe, so that if it did reach the log anyway the check
// after the crash tells it from an unissued event. The failed store is
// then crashed, not reopened in place: after a failed msync the page
// cache may hold pages it marks clean that never reached the device, and
// a reopen in the same boot would recover from those.
func probeFailed(s *engine.Store, m *model) {
	want := func(call string, err error) {
		if !errors.Is(err, engine.ErrFailed) {
			m.violate("%s on a failed store: %v, want ErrFailed", call, err)
		}
	}
	st := m.streams[0] // the workers are done: nobody else appends to it
	b := &batch{events: []engine.Event{{ID: eventID(m.seed, 1<<16, 0), Type: "probe", Data: []byte("after the failure")}}, status: maybe}
	st.batches = append(st.batches, b)
	_, err := s.Append(bg, st.name, engine.Any, b.events...)
	want("Append", err)
	want("Sync", s.Sync())
	want("ReadAll", firstErr(s.ReadAll(0)))
	want("ReadStream", firstErr(s.ReadStream(st.name, 0, engine.Forward)))
	_, err = s.StreamVersion(st.name)
	want("StreamVersion", err)
	want("DeleteStream", s.DeleteStream(bg, st.name, engine.Any))
	want("SetStreamMetadata", s.SetStreamMetadata(bg, st.name, engine.StreamMetadata{}))
	_, err = s.StreamMetadata(st.name)
	want("StreamMetadata", err)
	_, err = s.Compact(bg, nil)
	want("Compact", err)
}

// firstErr is the error of a read's first step: nil when it yields an
// event first, or nothing.
func firstErr(seq iter.Seq2[engine.RecordedEvent, error]) error {
	for _, err := range seq {
		return err
	}
	return nil
}
