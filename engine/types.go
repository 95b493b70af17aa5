package engine

import (
	"time"
)

// Expected-version specials for Append, DeleteStream and friends. Stream
// versions start at 0, so a stream with one event is at version 0.
const (
	// Any skips the optimistic-concurrency check: the events are appended
	// after whatever the stream holds. Appends with Any are not deduplicated
	// by event ID: a retried Any append writes the events again.
	Any int64 = -2
	// NoStream requires that the stream has no events yet.
	NoStream int64 = -1
	// StreamExists requires that the stream has at least one event.
	StreamExists int64 = -4
)

// End, as ReadStream's from with Backward, starts at the newest event.
const End int64 = -1

// Direction orders a stream read.
type Direction int

const (
	// Forward reads oldest first.
	Forward Direction = iota
	// Backward reads newest first.
	Backward
)

func (d Direction) String() string {
	if d == Backward {
		return "backward"
	}
	return "forward"
}

// Event is one event to append.
type Event struct {
	// ID identifies the event for idempotent retries; the zero ID never
	// matches, so events without an ID are never deduplicated.
	ID       [16]byte
	Type     string
	Data     []byte
	Metadata []byte
}

// RecordedEvent is an event as read back from the store.
//
// Data and Metadata alias the store's mapped files: they are valid only
// until the iteration step that produced them returns (the loop body's next
// turn). Copy them, or call Clone, to keep them longer.
type RecordedEvent struct {
	Stream   string
	Version  int64
	Position uint64 // log position: ReadAll(Position) starts at this event
	// Next is the log position just past the event: ReadAll or Subscribe
	// from Next resumes after it. Save it as a subscription's checkpoint.
	Next     uint64
	Time     time.Time
	ID       [16]byte
	Type     string
	Data     []byte
	Metadata []byte
}

// Clone returns a copy of e that owns its Data and Metadata.
func (e RecordedEvent) Clone() RecordedEvent {
	e.Data = append([]byte(nil), e.Data...)
	e.Metadata = append([]byte(nil), e.Metadata...)
	return e
}

// AppendResult tells where an append's events landed.
type AppendResult struct {
	FirstVersion int64  // version of the first appended event
	LastVersion  int64  // version of the last appended event
	Position     uint64 // log position of the first appended event
}
