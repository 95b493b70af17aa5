package recovery

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// fixture writes a store directory the way the engine does, without the
// engine (which imports this package): fixed-size segments, one batch per
// append, skip pointers from segment.NextSkip, every record claiming the
// batches before it durable (as in SyncEachCommit mode) and an index.
type fixture struct {
	t       *testing.T
	dir     string
	fs      mmapfile.FS
	segSize int64
	files   []mmapfile.File
	names   []string
	segEnd  []int64 // file offset where each segment's data ends
	end     uint64
	heads   map[string]segment.Record
	recs    map[uint64]segment.Record
	order   []fixRec // every record, in log order
	bytes   int64
}

type fixRec struct {
	stream  string
	version int64
	pos     uint64
	seg     string
	off     int64
	batch   int64 // file offset of the first record of its batch
}

func newFixture(t *testing.T, segSize int64) *fixture {
	t.Helper()
	dir := t.TempDir()
	fsys, err := mmapfile.OpenDir(dir, mmapfile.PrepFallocate)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, dir: dir, fs: fsys, segSize: segSize,
		heads: map[string]segment.Record{}, recs: map[uint64]segment.Record{}}
	f.roll()
	return f
}

func (f *fixture) roll() {
	name := segment.FileName(f.end)
	file, err := f.fs.Create(name, f.segSize)
	if err != nil {
		f.t.Fatal(err)
	}
	segment.PutHeader(file.Bytes(), segment.Header{Base: f.end, Size: uint64(f.segSize), Created: 1})
	f.files = append(f.files, file)
	f.names = append(f.names, name)
	f.segEnd = append(f.segEnd, segment.HeaderSize)
}

func (f *fixture) base() uint64 { b, _ := segment.ParseFileName(f.names[len(f.names)-1]); return b }

// append writes one batch of n events to stream.
func (f *fixture) append(stream string, n int) {
	data := fmt.Sprintf("event of %s", stream)
	size := uint64(n * segment.EncodedLen(len(stream), 1, 0, len(data)))
	if f.end+size > f.base()+uint64(f.segSize)-segment.HeaderSize {
		f.roll()
	}
	file, base, synced := f.files[len(f.files)-1], f.base(), f.end
	batch := segment.HeaderSize + int64(f.end-base)
	for i := range n {
		r := segment.Record{Position: f.end, Prev: segment.NoPosition, Skip: segment.NoPosition, SyncedThrough: synced,
			Timestamp: 1, Stream: []byte(stream), Type: []byte("t"), Data: []byte(data)}
		if i < n-1 {
			r.Flags = segment.FlagContinues
		}
		if h, ok := f.heads[stream]; ok {
			r.Prev, r.Version = h.Position, h.Version+1
			var sop *segment.Record
			if h.Skip != segment.NoPosition {
				x := f.recs[h.Skip]
				sop = &x
			}
			r.Skip, r.SkipVersion = segment.NextSkip(&h, sop)
		}
		off := segment.HeaderSize + int64(f.end-base)
		w, err := segment.Encode(file.Bytes()[off:], &r)
		if err != nil {
			f.t.Fatal(err)
		}
		f.recs[r.Position], f.heads[stream] = r, r
		f.order = append(f.order, fixRec{stream, r.Version, r.Position, f.names[len(f.names)-1], off, batch})
		f.end += uint64(w)
		f.bytes += int64(w)
		f.segEnd[len(f.segEnd)-1] = off + int64(w)
	}
}

// close writes the index (clean or dirty, checkpoint at the log end) and
// unmaps everything.
func (f *fixture) close(clean bool) {
	ix, err := hashindex.Create(f.fs, DefaultIndexName, 16)
	if err != nil {
		f.t.Fatal(err)
	}
	for stream, h := range f.heads {
		if err := ix.Put(hashindex.FingerprintString(stream), hashindex.Entry{Tail: h.Position, Version: h.Version, State: hashindex.Live}, nil); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := ix.Flush(f.end, 0, clean); err != nil {
		f.t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		f.t.Fatal(err)
	}
	for _, file := range f.files {
		if err := file.Close(); err != nil {
			f.t.Fatal(err)
		}
	}
}

// last returns the newest record of stream, and the one before it.
func (f *fixture) last(stream string) (newest, before fixRec) {
	for _, r := range f.order {
		if r.stream == stream {
			before, newest = newest, r
		}
	}
	return newest, before
}

// find returns the record of stream at version.
func (f *fixture) find(stream string, version int64) fixRec {
	for _, r := range f.order {
		if r.stream == stream && r.version == version {
			return r
		}
	}
	f.t.Fatalf("no %s/%d", stream, version)
	return fixRec{}
}

// patch applies fn to the bytes of file name in the directory.
func (f *fixture) patch(name string, fn func(b []byte)) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		f.t.Fatal(err)
	}
	fn(b)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// rewrite changes fields of a record and re-encodes it in place with a
// valid checksum: damage that only the chain checks can see.
func (f *fixture) rewrite(at fixRec, fn func(r *segment.Record)) {
	f.t.Helper()
	f.patch(at.seg, func(b []byte) {
		var r segment.Record
		if _, err := segment.Decode(b, at.off, at.pos, &r); err != nil {
			f.t.Fatal(err)
		}
		r.Stream = append([]byte(nil), r.Stream...)
		r.Type = append([]byte(nil), r.Type...)
		r.Data = append([]byte(nil), r.Data...)
		fn(&r)
		if _, err := segment.Encode(b[at.off:], &r); err != nil {
			f.t.Fatal(err)
		}
	})
}

// snapshot reads every file of dir but the lock, to show nothing changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}
