package fuzz

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/segment"
)

// A fuzzed store directory is an archive of up to maxFiles entries:
//
//	kind u8 | flags u8 | arg u64 | size u32 | content length u32 | content
//
// kind names the file (see archiveName); size is the file size (0: the
// content length), capped at maxFileSize, and the content is cut or
// zero-padded to it, so a 64 KiB segment holding a few records costs only
// those records in the corpus. Flags re-seal checksums after the fuzzer
// mutated the content (see images_test.go).
const (
	arcSeal      = 1 << iota // recompute checksums: segment header and records, or index header and slots
	arcFixHeader             // segments: write a valid header for the name's base and the file size
)

const arcEntryHeader = 18

// Kinds of archive entries.
const (
	kindSegment    = iota // segment.FileName(arg)
	kindIndex             // "index"
	kindIndexTmp          // "index.tmp", a scratch file Open must remove
	kindSpareReady        // a prepared spare segment
	kindSpareTmp          // a spare cut short
	kindJunk              // a file Open must ignore
	numKinds
)

type dirFile struct {
	kind  uint8
	flags uint8
	arg   uint64
	size  int
	data  []byte
}

func archiveName(f dirFile) string {
	switch f.kind % numKinds {
	case kindSegment:
		return segment.FileName(f.arg)
	case kindIndex:
		return "index"
	case kindIndexTmp:
		return "index.tmp"
	case kindSpareReady:
		return "spare-1-1.ready"
	case kindSpareTmp:
		return "spare-1-2.tmp"
	}
	return "notes.txt"
}

func encodeArchive(files ...dirFile) []byte {
	var b []byte
	for _, f := range files {
		data := bytes.TrimRight(f.data, "\x00") // the size restores the zeros
		b = append(b, f.kind, f.flags)
		b = le.AppendUint64(b, f.arg)
		b = le.AppendUint32(b, uint32(f.size))
		b = le.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
	}
	return b
}

// decodeArchive parses an archive leniently: whatever the length fields
// say, it makes at most maxFiles files of at most maxFileSize bytes.
func decodeArchive(b []byte) []dirFile {
	var files []dirFile
	for len(b) >= arcEntryHeader && len(files) < maxFiles {
		f := dirFile{kind: b[0], flags: b[1], arg: le.Uint64(b[2:])}
		size := int(min(le.Uint32(b[10:]), maxFileSize))
		clen := int(min(uint64(le.Uint32(b[14:])), uint64(len(b)-arcEntryHeader)))
		content := b[arcEntryHeader : arcEntryHeader+clen]
		b = b[arcEntryHeader+clen:]
		if size == 0 {
			size = min(clen, maxFileSize)
		}
		f.size = size
		f.data = make([]byte, size)
		copy(f.data, content)
		files = append(files, f)
	}
	return files
}

// materialize applies the seal flags and writes the files into dir. Later
// entries with the same name replace earlier ones.
func materialize(dir string, files []dirFile) error {
	for _, f := range files {
		switch {
		case f.kind%numKinds == kindSegment || f.kind%numKinds == kindSpareReady:
			if f.flags&arcFixHeader != 0 && len(f.data) >= segment.HeaderSize {
				segment.PutHeader(f.data, segment.Header{Base: f.arg, Size: uint64(len(f.data)), Created: 1})
			}
			if f.flags&arcSeal != 0 {
				sealRecords(f.data, segment.HeaderSize)
				if f.flags&arcFixHeader == 0 {
					sealSegmentHeader(f.data)
				}
			}
		case f.kind%numKinds == kindIndex && f.flags&arcSeal != 0:
			sealIndex(f.data)
		}
		if err := os.WriteFile(filepath.Join(dir, archiveName(f)), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Store option bits (the opts argument of FuzzDirectoryOpen).
const (
	optDurability = 3      // 0 NoSync, 1 SyncEachCommit, 2 SyncInterval, 3 SyncEachCommit with mapped writes
	optAppend     = 1 << 2 // append an event after reading, then reopen
)

// Bounds on one directory input's reads, so that a store of many tiny
// records still costs bounded time.
const (
	maxEvents      = 20000
	maxReadStreams = 32
	probeStream    = "fuzz-probe"
)

func storeOptions(opts uint8) *engine.Options {
	o := &engine.Options{SegmentSize: 64 << 10, IndexSlots: hashindex.MinSlots}
	switch opts & optDurability {
	case 0:
		o.Durability = engine.NoSync
	case 2:
		o.Durability = engine.SyncInterval
	case 3:
		o.MappedWrites = true
	}
	return o
}

// seenEvent is an event as returned by a read, reduced to what re-decoding
// its record must reproduce (hashes instead of copies of the bodies).
type seenEvent struct {
	stream, typ      string
	version          int64
	pos, next        uint64
	id               [16]byte
	dataSum, metaSum uint64
}

func see(e engine.RecordedEvent) seenEvent {
	return seenEvent{e.Stream, e.Type, e.Version, e.Position, e.Next, e.ID, xxhash.Sum64(e.Data), xxhash.Sum64(e.Metadata)}
}

// readErr accepts the errors a read of a damaged store may end with.
func readErr(op string, err error) error {
	if errors.Is(err, engine.ErrCorrupt) || errors.Is(err, hashindex.ErrCorrupt) {
		return nil
	}
	return fmt.Errorf("%s ended with %v (%T), not a corruption error", op, err, err)
}

// collectEvents reads seq to its end or to maxEvents events.
func collectEvents(seq func(func(engine.RecordedEvent, error) bool)) ([]seenEvent, error) {
	var out []seenEvent
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, see(e))
		if len(out) >= maxEvents {
			break
		}
	}
	return out, nil
}

// checkDirectory is FuzzDirectoryOpen's property check. Outcomes: "clean"
// (opened with the index as it was), "replayed" (the index was brought up
// to date from its checkpoint), "rebuilt" (the index was rebuilt from the
// whole log) and "corrupt" (Open refused with ErrCorrupt: damaged, short
// and empty files alike).
func checkDirectory(dir string, archive []byte, opts uint8) (string, error) {
	if err := materialize(dir, decodeArchive(archive)); err != nil {
		return "", err
	}
	s, err := engine.Open(dir, storeOptions(opts))
	switch {
	case errors.Is(err, engine.ErrCorrupt):
		return "corrupt", nil
	case err != nil:
		return "", fmt.Errorf("Open failed with %v (%T), not a corruption error", err, err)
	}
	rec := s.Recovered()
	outcome := "clean"
	switch {
	case rec.RebuiltIndex:
		outcome = "rebuilt"
	case rec.ReplayedIndex:
		outcome = "replayed"
	}
	verr := readStore(s, dir, rec.RebuiltIndex)
	if verr == nil && opts&optAppend != 0 {
		verr = appendAndReopen(s, dir, opts)
		s = nil
	}
	if s != nil {
		if err := s.Close(); err != nil && verr == nil {
			verr = fmt.Errorf("Close: %v", err)
		}
	}
	return outcome, verr
}

// readStore reads the whole log and every stream it names, checks the
// reads against each other and re-decodes every record returned.
func readStore(s *engine.Store, dir string, rebuilt bool) error {
	segs, err := loadSegments(dir)
	if err != nil {
		return err
	}
	from := uint64(0)
	if len(segs) > 0 {
		from = segs[0].base // the log starts at the first segment's base
	}
	all, aerr := collectEvents(s.ReadAll(from))
	if aerr != nil {
		if rebuilt {
			return fmt.Errorf("ReadAll after a rebuild that verified the log: %v", aerr)
		}
		if !errors.Is(aerr, engine.ErrInvalidPosition) {
			if err := readErr("ReadAll", aerr); err != nil {
				return err
			}
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i].pos != all[i-1].next {
			return fmt.Errorf("ReadAll: event at %d follows one ending at %d", all[i].pos, all[i-1].next)
		}
	}
	seen := slices.Clone(all)

	byStream := map[string][]seenEvent{}
	streams := []string{"a", "b", "c", probeStream}
	for _, e := range all {
		if _, ok := byStream[e.stream]; !ok && len(streams) < maxReadStreams {
			streams = append(streams, e.stream)
		}
		byStream[e.stream] = append(byStream[e.stream], e)
	}
	slices.Sort(streams)
	streams = slices.Compact(streams)
	for _, stream := range streams {
		back, berr := collectEvents(s.ReadStream(stream, engine.End, engine.Backward))
		fwd, ferr := collectEvents(s.ReadStream(stream, 0, engine.Forward))
		seen = append(append(seen, back...), fwd...)
		if len(back) >= maxEvents || len(fwd) >= maxEvents {
			continue
		}
		for _, r := range []struct {
			op  string
			err error
		}{{"ReadStream backward", berr}, {"ReadStream forward", ferr}} {
			if r.err == nil {
				continue
			}
			if rebuilt && aerr == nil {
				return fmt.Errorf("%s %q after a rebuild: %v", r.op, stream, r.err)
			}
			if err := readErr(r.op+" "+stream, r.err); err != nil {
				return err
			}
		}
		if berr == nil {
			if err := chainOrder(stream, back, true); err != nil {
				return err
			}
		}
		if ferr == nil {
			if err := chainOrder(stream, fwd, false); err != nil {
				return err
			}
		}
		if berr == nil && ferr == nil {
			slices.Reverse(back)
			if !slices.Equal(back, fwd) {
				return fmt.Errorf("stream %q reads differently forward (%d events) and backward (%d)", stream, len(fwd), len(back))
			}
		}
		// A rebuilt index describes exactly the log that was scanned, so
		// the stream reads must agree with the log read.
		if rebuilt && aerr == nil && len(all) < maxEvents && !slices.Equal(fwd, byStream[stream]) {
			return fmt.Errorf("stream %q: ReadStream has %d events, ReadAll %d", stream, len(fwd), len(byStream[stream]))
		}
	}
	return verifyEvents(dir, seen)
}

// chainOrder checks that a stream read returned consecutive versions of
// the stream, down to (backward) or from (forward) version 0.
func chainOrder(stream string, evs []seenEvent, backward bool) error {
	for i, e := range evs {
		want := int64(i)
		if backward {
			want = int64(len(evs) - 1 - i)
		}
		if e.stream != stream || e.version != want {
			return fmt.Errorf("stream %q read (backward %v) returned %q version %d at index %d", stream, backward, e.stream, e.version, i)
		}
	}
	return nil
}

type segFile struct {
	base uint64
	data []byte
}

// loadSegments reads the segment files of dir from disk (the page cache the
// mappings share), in base order.
func loadSegments(dir string) ([]segFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segFile
	for _, e := range ents {
		base, ok := segment.ParseFileName(e.Name())
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		segs = append(segs, segFile{base, data})
	}
	return segs, nil
}

// verifyEvents re-decodes the record behind every event returned: it must
// verify (checksum, position, field checks) and carry exactly what the
// event said.
func verifyEvents(dir string, evs []seenEvent) error {
	if len(evs) == 0 {
		return nil
	}
	segs, err := loadSegments(dir)
	if err != nil {
		return err
	}
	for _, e := range evs {
		i, found := slices.BinarySearchFunc(segs, e.pos, func(s segFile, p uint64) int { return cmp.Compare(s.base, p) })
		if !found {
			i--
		}
		if i < 0 {
			return fmt.Errorf("event %q/%d at %d lies before every segment", e.stream, e.version, e.pos)
		}
		var r segment.Record
		off := e.pos - segs[i].base + segment.HeaderSize
		if off > uint64(len(segs[i].data)) {
			return fmt.Errorf("event %q/%d at %d lies past its segment", e.stream, e.version, e.pos)
		}
		if _, err := segment.Decode(segs[i].data, int64(off), e.pos, &r); err != nil {
			return fmt.Errorf("event %q/%d returned by a read does not verify: %v", e.stream, e.version, err)
		}
		got := seenEvent{string(r.Stream), string(r.Type), r.Version, r.Position, r.End(), r.ID, xxhash.Sum64(r.Data), xxhash.Sum64(r.Metadata)}
		if got != e {
			return fmt.Errorf("event returned by a read differs from its record:\n got %+v\nwant %+v", e, got)
		}
	}
	return nil
}

// appendAndReopen appends to the opened store s, closes it, reopens it and
// checks the reopened store is clean and holds the appended event. It
// closes s.
func appendAndReopen(s *engine.Store, dir string, opts uint8) error {
	ev := engine.Event{Type: "probe", Data: []byte("appended by the fuzzer")}
	ev.ID[0] = 0xf2
	res, aerr := s.Append(context.Background(), probeStream, engine.Any, ev)
	if err := s.Close(); err != nil {
		return fmt.Errorf("Close after Append (%v): %v", aerr, err)
	}
	if aerr != nil {
		// The store may hold damage the clean index hid; appending to a
		// stream whose chain is damaged fails. It must fail cleanly.
		return readErr("Append", aerr)
	}
	s2, err := engine.Open(dir, storeOptions(opts))
	if err != nil {
		return fmt.Errorf("reopen after a clean Close: %v", err)
	}
	defer s2.Close()
	if !s2.Recovered().Clean {
		return fmt.Errorf("reopen after a clean Close was not clean: %+v", s2.Recovered())
	}
	got, err := collectEvents(s2.ReadStream(probeStream, engine.End, engine.Backward))
	if err != nil || len(got) == 0 || got[0].pos != res.Position || got[0].version != res.LastVersion {
		return fmt.Errorf("appended event %+v not read back after reopen: %d events, %v", res, len(got), err)
	}
	return verifyEvents(dir, got[:1])
}
