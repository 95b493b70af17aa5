package hashindex

import "strconv"

// State is a stream's lifecycle state as recorded in its slot.
type State uint8

const (
	// Live is a stream that can be read and appended to.
	Live State = 1
	// Deleted is a soft-deleted stream: reads see nothing before the
	// truncate-before version the caller keeps in Entry.Aux, and appending
	// revives it.
	Deleted State = 2
	// Tombstoned is a hard-deleted stream: it can never be written again.
	Tombstoned State = 3
)

// valid reports whether s is one of the defined states. State 0 is not: a
// zero state byte belongs to an empty slot.
func (s State) valid() bool { return s >= Live && s <= Tombstoned }

func (s State) String() string {
	switch s {
	case Live:
		return "live"
	case Deleted:
		return "deleted"
	case Tombstoned:
		return "tombstoned"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Entry is what the index keeps for one stream.
type Entry struct {
	Tail    uint64 // log position of the stream's newest record
	Version int64  // that record's stream version
	Aux     uint64 // state-dependent word, opaque to this package (e.g. truncate-before)
	State   State
}

// MatchFunc tells whether a slot whose fingerprint matched really belongs to
// the wanted stream: the caller reads the record at e.Tail and compares
// stream IDs. A fingerprint match for which it returns false continues
// probing; an error stops the operation and is returned unchanged.
//
// A nil MatchFunc trusts fingerprints: every fingerprint match is taken as
// the stream.
type MatchFunc func(e Entry) (bool, error)
