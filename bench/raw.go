package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults of RawOptions.
const (
	DefaultRawRecordSize = 224      // an encoded Spool record of a 100-byte event on users/<n>
	DefaultRawChunk      = 64 << 20 // zero-filled ahead of the write position, like a segment
	rawHeaderSize        = 24
	zeroFillStep         = 4 << 10 // zero-fill in page-sized pwrites, like PrepZeroFill
)

// RawOptions configure a RawLog. Zero fields mean defaults.
type RawOptions struct {
	// RecordSize is the bytes each record takes (a record whose stream
	// and data need more takes that, rounded up to 8).
	RecordSize int
	// Prealloc is how many bytes are zero-filled (then fdatasynced) before
	// the first append, rounded up to Chunk; at least one Chunk.
	Prealloc int64
	// Chunk is the zero-fill step when the log outgrows the prepared
	// space; the committer then fills another chunk inline.
	Chunk int64
}

// RawLog is the raw group-commit baseline ("raw-pre"): writers queue
// records and wait; one committer goroutine takes the whole queue, writes
// it with one pwrite into preallocated space and makes it durable with one
// fdatasync, then wakes the writers of that batch. It never sleeps on a
// timer while records wait. Records link to their stream's previous record
// (an in-memory map holds the heads) but carry no checksum.
type RawLog struct {
	f       *os.File
	recSize int
	chunk   int64

	mu      sync.Mutex
	cond    *sync.Cond
	cur     *rawBatch
	free    []byte
	tail    int64            // log end as assigned to queued records
	heads   map[string]int64 // stream → position of its newest record
	closing bool
	failed  error

	// committer-owned
	size int64 // bytes prepared (zero-filled and synced)
	done chan struct{}

	statsMu  sync.Mutex
	syncs    *Latencies // pwrite+fdatasync durations
	commits  uint64
	records  uint64
	bytes    uint64
	extended int
}

type rawBatch struct {
	off  int64
	buf  []byte
	n    int
	done chan struct{}
	err  error
}

// OpenRaw creates the raw log file at path (which must not exist),
// zero-fills and syncs its first space, and starts the committer.
func OpenRaw(path string, o RawOptions) (*RawLog, error) {
	if o.RecordSize <= 0 {
		o.RecordSize = DefaultRawRecordSize
	}
	o.RecordSize = (o.RecordSize + 7) &^ 7
	if o.Chunk <= 0 {
		o.Chunk = DefaultRawChunk
	}
	o.Chunk = (o.Chunk + zeroFillStep - 1) &^ (zeroFillStep - 1)
	pre := max(o.Prealloc, o.Chunk)
	pre = (pre + o.Chunk - 1) / o.Chunk * o.Chunk

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	r := &RawLog{f: f, recSize: o.RecordSize, chunk: o.Chunk, heads: make(map[string]int64), done: make(chan struct{}), syncs: NewLatencies(1024)}
	r.cond = sync.NewCond(&r.mu)
	r.cur = &rawBatch{done: make(chan struct{})}
	err = r.zeroFill(pre)
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("bench: prepare raw log: %w", err)
	}
	go r.commitLoop()
	return r, nil
}

// zeroFill extends the prepared space to size with 4 KiB pwrites of zeros,
// then fdatasyncs.
func (r *RawLog) zeroFill(size int64) error {
	zeros := make([]byte, zeroFillStep)
	for off := r.size; off < size; off += zeroFillStep {
		if _, err := r.f.WriteAt(zeros, off); err != nil {
			return err
		}
	}
	if err := fdatasync(r.f); err != nil {
		return err
	}
	r.size = size
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// RecordSize is the bytes one record of stream with data of n bytes takes.
func (r *RawLog) RecordSize(stream string, n int) int {
	return max(r.recSize, (rawHeaderSize+len(stream)+n+7)&^7)
}

// Append queues one record per data slice for stream, as one batch, and
// returns once the fdatasync covering them has returned.
func (r *RawLog) Append(stream string, data ...[]byte) error {
	r.mu.Lock()
	if r.failed != nil || r.closing {
		err := r.failed
		r.mu.Unlock()
		if err == nil {
			err = ErrRawClosed
		}
		return err
	}
	b := r.cur
	if len(b.buf) == 0 {
		b.off = r.tail
	}
	prev, ok := r.heads[stream]
	if !ok {
		prev = -1
	}
	for i, d := range data {
		size := r.RecordSize(stream, len(d))
		start := len(b.buf)
		b.buf = append(b.buf, make([]byte, size)...)
		rec := b.buf[start:]
		binary.LittleEndian.PutUint32(rec[0:], uint32(size))
		binary.LittleEndian.PutUint16(rec[4:], uint16(len(stream)))
		if i < len(data)-1 {
			binary.LittleEndian.PutUint16(rec[6:], 1) // batch continues
		}
		binary.LittleEndian.PutUint64(rec[8:], uint64(r.tail))
		binary.LittleEndian.PutUint64(rec[16:], uint64(prev))
		copy(rec[rawHeaderSize:], stream)
		copy(rec[rawHeaderSize+len(stream):], d)
		prev = r.tail
		r.tail += int64(size)
		b.n++
	}
	r.heads[stream] = prev
	r.cond.Signal()
	r.mu.Unlock()
	<-b.done
	return b.err
}

func (r *RawLog) commitLoop() {
	defer close(r.done)
	for {
		r.mu.Lock()
		for len(r.cur.buf) == 0 && !r.closing {
			r.cond.Wait()
		}
		if len(r.cur.buf) == 0 {
			r.mu.Unlock()
			return
		}
		b := r.cur
		r.cur = &rawBatch{buf: r.free[:0], done: make(chan struct{})}
		r.free = nil
		r.mu.Unlock()

		b.err = r.write(b)
		if b.err != nil {
			r.mu.Lock()
			if r.failed == nil {
				r.failed = b.err
			}
			r.mu.Unlock()
		}
		buf := b.buf
		close(b.done)

		r.mu.Lock()
		r.free = buf
		r.mu.Unlock()
	}
}

// write writes one batch with one pwrite and makes it durable with one
// fdatasync.
func (r *RawLog) write(b *rawBatch) error {
	end := b.off + int64(len(b.buf))
	if end > r.size {
		if err := r.zeroFill((end + r.chunk - 1) / r.chunk * r.chunk); err != nil {
			return err
		}
		r.statsMu.Lock()
		r.extended++
		r.statsMu.Unlock()
	}
	start := time.Now()
	if _, err := r.f.WriteAt(b.buf, b.off); err != nil {
		return err
	}
	if err := fdatasync(r.f); err != nil {
		return err
	}
	d := time.Since(start)
	r.statsMu.Lock()
	r.syncs.Add(d)
	r.commits++
	r.records += uint64(b.n)
	r.bytes += uint64(len(b.buf))
	r.statsMu.Unlock()
	return nil
}

// RawStats are a RawLog's counters.
type RawStats struct {
	Commits  uint64 // pwrite+fdatasync rounds
	Records  uint64 // records made durable
	Bytes    uint64 // record bytes made durable
	Extended int    // times the committer had to zero-fill more space inline
	// Sync is the distribution of pwrite+fdatasync durations.
	Sync Quantiles
}

// Stats returns the log's counters.
func (r *RawLog) Stats() RawStats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return RawStats{r.commits, r.records, r.bytes, r.extended, MergeLatencies(r.syncs)}
}

// Close waits for queued records to commit and closes the file.
func (r *RawLog) Close() error {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return ErrRawClosed
	}
	r.closing = true
	r.cond.Broadcast()
	r.mu.Unlock()
	<-r.done
	return r.f.Close()
}
