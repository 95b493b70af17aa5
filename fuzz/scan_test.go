package fuzz

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/recovery"
	"github.com/spooldb/spool/segment"
)

// Segment image modes (bits of the mode argument of FuzzSegmentScan).
const (
	scanHeader = 1 << iota // prefix each body with a valid header; else the body is the whole file
	scanSeal               // recompute record (and, without scanHeader, header) checksums
	scanPad                // pad each file with zeros past the next 4 KiB page
	scanTwo                // a second segment at base+gap made from body2
)

// segImage is one fuzzed segment file.
type segImage struct {
	name string
	base uint64
	data []byte
}

// makeSegment turns a fuzzed body into a segment file image.
func makeSegment(body []byte, base uint64, mode uint8) []byte {
	var img []byte
	if mode&scanHeader != 0 {
		img = make([]byte, segment.HeaderSize+len(body))
		copy(img[segment.HeaderSize:], body)
	} else {
		img = bytes.Clone(body)
	}
	if mode&scanPad != 0 {
		n := min(len(img)&^4095+8192, len(img)+maxPadding)
		img = append(img, make([]byte, n-len(img))...)
	}
	if mode&scanSeal != 0 {
		sealRecords(img, segment.HeaderSize)
		if mode&scanHeader == 0 {
			sealSegmentHeader(img)
		}
	}
	if mode&scanHeader != 0 {
		segment.PutHeader(img, segment.Header{Base: base, Size: uint64(len(img)), Created: 1})
	}
	return img
}

// checkScan is FuzzSegmentScan's property check: the images are scanned,
// and when their headers are valid, recovered with recovery.Rebuild in dir.
// Outcomes: "header" (a header does not verify, as the engine would refuse
// the file), "ok" (Rebuild succeeded), "corrupt" (Rebuild refused).
func checkScan(dir string, body1, body2 []byte, base, gap, durable uint64, mode uint8) (string, error) {
	base %= segment.MaxPosition
	imgs := []segImage{{base: base, data: makeSegment(body1, base, mode)}}
	if mode&scanTwo != 0 {
		b2 := (base + gap) % segment.MaxPosition
		imgs = append(imgs, segImage{base: b2, data: makeSegment(body2, b2, mode)})
	}
	headerOK := true
	for i := range imgs {
		im := &imgs[i]
		h, err := segment.ReadHeader(im.data, int64(len(im.data)))
		if err != nil {
			if !errors.Is(err, segment.ErrCorrupt) {
				return "", fmt.Errorf("ReadHeader: %v is not ErrCorrupt", err)
			}
			headerOK = false
		} else {
			im.base = h.Base
		}
		if _, err := scanImage(im.data, im.base); err != nil {
			return "", err
		}
		im.name = segment.FileName(im.base)
	}
	if !headerOK {
		return "header", nil
	}
	// The engine lists segments by name, so in base order and unique.
	slices.SortFunc(imgs, func(a, b segImage) int { return cmp.Compare(a.base, b.base) })
	imgs = slices.CompactFunc(imgs, func(a, b segImage) bool { return a.base == b.base })
	return rebuildImages(dir, imgs, durable)
}

// scanStats is what a consistent scan of one segment found.
type scanStats struct {
	res     segment.ScanResult
	records []segment.Record // complete batches, aliasing the image
}

// scanImage runs segment.Scanner over an image and checks the result
// against the records it reported.
func scanImage(data []byte, base uint64) (scanStats, error) {
	var st scanStats
	from := min(int64(segment.HeaderSize), int64(len(data)))
	var sc segment.Scanner
	next := from
	res, err := sc.Scan(data, base, from, func(off int64, r *segment.Record) error {
		if off != next || r.Position != base+uint64(off-segment.HeaderSize) {
			return fmt.Errorf("Scan reported a record at %d (position %d), expected the next one at %d", off, r.Position, next)
		}
		next = off + int64(r.Len())
		st.records = append(st.records, *r)
		return nil
	})
	if err != nil {
		return st, err
	}
	st.res = res
	switch {
	case res.End < from || res.End > int64(len(data)) || res.End != next:
		return st, fmt.Errorf("Scan End %d, records end at %d, image of %d bytes", res.End, next, len(data))
	case res.Records != len(st.records):
		return st, fmt.Errorf("Scan Records %d, reported %d", res.Records, len(st.records))
	case res.IncompleteBytes < 0 || res.End+res.IncompleteBytes > int64(len(data)):
		return st, fmt.Errorf("Scan incomplete bytes %d past the image", res.IncompleteBytes)
	case (res.Reason == segment.EndInvalid) != (res.Invalid != nil):
		return st, fmt.Errorf("Scan reason %v with Invalid %v", res.Reason, res.Invalid)
	}
	return st, nil
}

// rebuildImages writes the segment images into dir and runs Rebuild on
// them, then checks what it did.
func rebuildImages(dir string, imgs []segImage, durable uint64) (string, error) {
	fs, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		return "", err
	}
	segs := make([]recovery.Segment, len(imgs))
	for i, im := range imgs {
		f, err := fs.Create(im.name, int64(len(im.data)))
		if err != nil {
			return "", err
		}
		defer f.Close()
		copy(f.Bytes(), im.data)
		if segs[i], err = recovery.MappedSegment(im.name, im.base, f); err != nil {
			return "corrupt", nil // a compacted header with a bad position map
		}
	}
	var ix *hashindex.Index
	var rep recovery.Report
	err = mmapfile.Guard(func() (err error) {
		ix, rep, err = recovery.Rebuild(fs, segs, "index", hashindex.MinSlots, durable)
		return err
	})
	if err != nil {
		if !errors.Is(err, segment.ErrCorrupt) {
			return "", fmt.Errorf("Rebuild failed with %v, not a corruption error", err)
		}
		// Rebuild refuses before changing anything.
		for i, sg := range segs {
			if !bytes.Equal(segBytes(sg), imgs[i].data) {
				return "", fmt.Errorf("Rebuild failed (%v) but changed %s", err, sg.Name)
			}
		}
		names, _ := fs.List()
		for _, sg := range segs {
			if !slices.Contains(names, sg.Name) {
				return "", fmt.Errorf("Rebuild failed (%v) but removed %s", err, sg.Name)
			}
		}
		return "corrupt", nil
	}
	defer ix.Close()
	return "ok", checkRebuilt(fs, segs, imgs, ix, rep)
}

// checkRebuilt checks a successful Rebuild: the kept segments hold exactly
// rep.Records records ending at rep.End followed by zeros, removed segments
// are gone, and the index is valid and points at each stream's newest
// record.
func checkRebuilt(fs mmapfile.FS, segs []recovery.Segment, imgs []segImage, ix *hashindex.Index, rep recovery.Report) error {
	kept := len(segs) - rep.RemovedSegments
	if kept < 1 || rep.RemovedSegments < 0 {
		return fmt.Errorf("Rebuild removed %d of %d segments", rep.RemovedSegments, len(segs))
	}
	names, err := fs.List()
	if err != nil {
		return err
	}
	for i, sg := range segs {
		if slices.Contains(names, sg.Name) != (i < kept) {
			return fmt.Errorf("segment %s: kept %v, still listed %v", sg.Name, i < kept, !(i < kept))
		}
	}
	heads := map[string]streamHead{}
	records := 0
	for i, sg := range segs[:kept] {
		data := segBytes(sg)
		st, err := scanImage(data, sg.Base)
		if err != nil {
			return err
		}
		records += len(st.records)
		for _, r := range st.records {
			h := heads[string(r.Stream)]
			if r.Flags&(segment.FlagMetadata|segment.FlagDeleted|segment.FlagTombstone) != 0 {
				h.sys, h.hasSys = r, true
			} else {
				h.event, h.hasEvent = r, true
			}
			heads[string(r.Stream)] = h
		}
		if i < kept-1 {
			// Only the last kept segment may change.
			if !bytes.Equal(data, imgs[i].data) {
				return fmt.Errorf("Rebuild changed %s, which is not the last", sg.Name)
			}
			if end := sg.Base + uint64(st.res.End-segment.HeaderSize); end != segs[i+1].Base {
				return fmt.Errorf("kept segment %s ends at %d, next begins at %d", sg.Name, end, segs[i+1].Base)
			}
			continue
		}
		end := sg.Base + uint64(st.res.End-segment.HeaderSize)
		if end != rep.End || st.res.IncompleteBytes != 0 || st.res.Reason == segment.EndInvalid {
			return fmt.Errorf("after Rebuild (end %d) the last segment scans to %d (%v, %d incomplete bytes)",
				rep.End, end, st.res.Reason, st.res.IncompleteBytes)
		}
		if !bytes.Equal(data[:st.res.End], imgs[i].data[:st.res.End]) {
			return fmt.Errorf("Rebuild changed bytes before the end of %s", sg.Name)
		}
		if bytes.ContainsFunc(data[st.res.End:], func(r rune) bool { return r != 0 }) {
			return fmt.Errorf("nonzero bytes remain after the end of %s", sg.Name)
		}
	}
	if records != rep.Records || len(heads) != rep.Streams {
		return fmt.Errorf("Rebuild reports %d records of %d streams, the log holds %d of %d", rep.Records, rep.Streams, records, len(heads))
	}
	return checkIndexHeads(ix, segs[:kept], heads, rep.End)
}

// streamHead is what a rebuilt index must say of a stream: its newest
// event and its newest system record (metadata, delete, tombstone), as a
// scan of the log finds them.
type streamHead struct {
	event, sys       segment.Record
	hasEvent, hasSys bool
}

// checkIndexHeads checks a rebuilt index against the streams' newest
// records: the tail names the newest event (Version its version), or the
// newest system record when the stream has no event (Version -1); Aux
// names the newest system record (its position + 1), or is 0.
func checkIndexHeads(ix *hashindex.Index, segs []recovery.Segment, heads map[string]streamHead, end uint64) error {
	if err := ix.Validate(); err != nil {
		return fmt.Errorf("rebuilt index does not validate: %v", err)
	}
	if ix.Len() != len(heads) || ix.Checkpoint() != end || !ix.Clean() {
		return fmt.Errorf("rebuilt index: %d streams, checkpoint %d, clean %v; want %d, %d, true", ix.Len(), ix.Checkpoint(), ix.Clean(), len(heads), end)
	}
	for stream, h := range heads {
		var r segment.Record
		e, ok, err := ix.Lookup(hashindex.FingerprintString(stream), func(e hashindex.Entry) (bool, error) {
			if err := decodeAt(segs, e.Tail, &r); err != nil {
				return false, err
			}
			return string(r.Stream) == stream, nil
		})
		if err != nil || !ok {
			return fmt.Errorf("rebuilt index: lookup %q: %v, %v", stream, ok, err)
		}
		tail, version, aux := h.sys.Position, int64(-1), uint64(0)
		if h.hasEvent {
			tail, version = h.event.Position, h.event.Version
		}
		if h.hasSys {
			aux = h.sys.Position + 1
		}
		// The state follows the system records (a delete, revived by a
		// later event or not; a tombstone): checked without them only.
		if e.Tail != tail || e.Version != version || e.Aux != aux || (!h.hasSys && e.State != hashindex.Live) {
			return fmt.Errorf("rebuilt index: %q -> %+v, want tail %d, version %d, aux %d (newest event %v, system record %v)",
				stream, e, tail, version, aux, h.hasEvent, h.hasSys)
		}
	}
	return nil
}

// decodeAt decodes the record at log position pos of segs (in base order).
func decodeAt(segs []recovery.Segment, pos uint64, r *segment.Record) error {
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i].Base <= pos {
			data := segBytes(segs[i])
			off := pos - segs[i].Base + segment.HeaderSize
			if off > uint64(len(data)) {
				break
			}
			_, err := segment.Decode(data, int64(off), pos, r)
			return err
		}
	}
	return fmt.Errorf("position %d lies in no segment", pos)
}

// segBytes is the mapping of a segment made by recovery.MappedSegment,
// which stays mapped (its release does nothing).
func segBytes(sg recovery.Segment) []byte {
	f, _, _, err := sg.Map()
	if err != nil {
		panic(err) // MappedSegment's Map cannot fail
	}
	return f.Bytes()
}
