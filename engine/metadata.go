package engine

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/spooldb/spool/segment"
)

// StreamMetadata is a stream's retention: which of its events readers may
// still see. Events it hides are gone for ReadStream, ReadAll and the
// subscriptions at once, and compaction removes them from the disk later.
// The zero value keeps everything.
//
// Retention only ever hides a prefix of a stream's versions: below
// TruncateBefore, all but the newest MaxCount, those stamped longer than
// MaxAge ago (stamps never go back within a stream). Hiding is for good:
// a later SetStreamMetadata or DeleteStream raises TruncateBefore past what
// the old retention hid, so loosening retention never shows hidden events
// again, whether or not compaction removed them yet.
type StreamMetadata struct {
	// MaxCount keeps the newest MaxCount events; 0 keeps all.
	MaxCount int64
	// MaxAge hides events appended longer ago than this (by the store's
	// clock when the event was appended); 0 keeps all.
	MaxAge time.Duration
	// TruncateBefore hides the events whose version is lower; 0 hides
	// none. DeleteStream sets it past the stream's newest event.
	TruncateBefore int64
}

// Validate reports whether md can be stored.
func (md StreamMetadata) Validate() error {
	if md.MaxCount < 0 || md.MaxAge < 0 || md.TruncateBefore < 0 {
		return fmt.Errorf("%w: %s: negative limits are not allowed", ErrInvalidMetadata, md)
	}
	return nil
}

func (md StreamMetadata) String() string {
	return fmt.Sprintf("{MaxCount: %d, MaxAge: %v, TruncateBefore: %d}", md.MaxCount, md.MaxAge, md.TruncateBefore)
}

// System records are the store's own bookkeeping in a stream: a record
// with FlagMetadata carries the stream's whole StreamMetadata as its data;
// FlagDeleted also marks a DeleteStream, FlagTombstone a TombstoneStream.
// They are not events: they take no version, readers never return them,
// and they chain among themselves (Prev is the stream's previous system
// record), apart from the stream's events. A system record's Version is
// the version the stream's next event would get.
//
// Data layout (little-endian, 32 bytes):
//
//	0 format u32 = 1   4 reserved u32 = 0
//	8 MaxCount i64    16 MaxAge ns i64    24 TruncateBefore i64
const (
	metadataFormat = 1
	metadataLen    = 32
)

// System record event types, for dumps; readers never see them.
const (
	typeMetadata  = "$metadata"
	typeDeleted   = "$deleted"
	typeTombstone = "$tombstone"
)

func encodeMetadata(md StreamMetadata) []byte {
	b := make([]byte, metadataLen)
	le := binary.LittleEndian
	le.PutUint32(b[0:], metadataFormat)
	le.PutUint64(b[8:], uint64(md.MaxCount))
	le.PutUint64(b[16:], uint64(md.MaxAge))
	le.PutUint64(b[24:], uint64(md.TruncateBefore))
	return b
}

// decodeMetadata reads the metadata of system record r (which verified),
// at file offset off of segment name.
func decodeMetadata(r *segment.Record, name string, off int64) (StreamMetadata, error) {
	b := r.Data
	le := binary.LittleEndian
	bad := func(reason string) error {
		return &CorruptionError{Segment: name, Offset: off, Reason: fmt.Sprintf("stream %q system record: %s", r.Stream, reason)}
	}
	if r.Flags&segment.FlagMetadata == 0 {
		return StreamMetadata{}, bad("not a system record")
	}
	if len(b) != metadataLen {
		return StreamMetadata{}, bad(fmt.Sprintf("metadata is %d bytes, want %d", len(b), metadataLen))
	}
	if v := le.Uint32(b[0:]); v != metadataFormat || le.Uint32(b[4:]) != 0 {
		return StreamMetadata{}, bad(fmt.Sprintf("unknown metadata format %d", v))
	}
	md := StreamMetadata{
		MaxCount:       int64(le.Uint64(b[8:])),
		MaxAge:         time.Duration(le.Uint64(b[16:])),
		TruncateBefore: int64(le.Uint64(b[24:])),
	}
	if md.Validate() != nil {
		return StreamMetadata{}, bad("negative limits")
	}
	return md, nil
}

// isSystem reports whether a record with these flags is a system record.
func isSystem(f segment.Flags) bool { return f&segment.FlagMetadata != 0 }
