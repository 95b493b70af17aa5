package engine

import (
	"slices"

	"github.com/spooldb/spool/segment"
)

// Filter selects events of a log read (ReadAllFiltered, Subscribe). An
// event passes when it passes every set field; the zero Filter passes all.
//
// A record a filter rejects is judged on its header, stream ID and type
// only: its body is neither verified nor copied, which is what makes a
// selective scan cheap. Records that pass are verified in full, so nothing
// unverified is ever returned; damage inside a skipped record goes
// unnoticed by the scan (the next record's position check still catches a
// damaged length).
type Filter struct {
	// StreamPrefix keeps events of streams whose ID starts with it.
	StreamPrefix string
	// Types keeps events whose type is one of these.
	Types []string
	// Match, when set, keeps events for which it returns true. The header's
	// byte slices are valid only during the call. It may also see events
	// that retention then hides (deleted streams, TruncateBefore, MaxCount,
	// MaxAge): that check comes after it, once per chunk of records.
	Match func(h *EventHeader) bool
}

// EventHeader is what a Filter's Match sees of an event.
type EventHeader struct {
	Stream   []byte
	Type     []byte
	Version  int64
	Position uint64
	Time     int64 // Unix nanoseconds
	ID       [16]byte
}

// keepsKey reports whether f passes a record on its stream ID and type. A
// nil f passes everything.
func (f *Filter) keepsKey(k *segment.Key) bool {
	if f == nil {
		return true
	}
	if p := f.StreamPrefix; len(k.Stream) < len(p) || string(k.Stream[:len(p)]) != p {
		return false
	}
	if len(f.Types) > 0 && !slices.ContainsFunc(f.Types, func(t string) bool { return string(k.Type) == t }) {
		return false
	}
	return true
}

// needsHeader reports whether f looks further than keepsKey does.
func (f *Filter) needsHeader() bool { return f != nil && f.Match != nil }

// keepsHeader reports whether f's Match passes the (peeked) record r. h is
// scratch, reused so that a scan does not allocate a header per record
// (Match's argument escapes).
func (f *Filter) keepsHeader(r *segment.Record, h *EventHeader) bool {
	*h = EventHeader{Stream: r.Stream, Type: r.Type, Version: r.Version, Position: r.Position, Time: r.Timestamp, ID: r.ID}
	keep := f.Match(h)
	*h = EventHeader{} // drop the slices into the mapping
	return keep
}
