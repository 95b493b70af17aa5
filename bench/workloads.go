package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/engine"
)

// Runner runs workloads in a scratch directory and measures them.
type Runner struct {
	Cfg Config    // with defaults applied
	Dir string    // scratch directory; each workload makes its own under it
	Dev *Device   // nil when device counters are unavailable
	Log io.Writer // progress; may be nil

	seq int
}

// NewRunner prepares a runner over dir (which must exist).
func NewRunner(cfg Config, dir string, log io.Writer) *Runner {
	r := &Runner{Cfg: cfg.WithDefaults(), Dir: dir, Log: log}
	if d, err := DeviceOf(dir); err == nil {
		r.Dev = d
	} else {
		r.logf("device counters unavailable: %v", err)
	}
	return r
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

// scratch returns a fresh path under the runner's directory.
func (r *Runner) scratch(name string) string {
	r.seq++
	return filepath.Join(r.Dir, fmt.Sprintf("%02d-%s", r.seq, name))
}

// window measures device writes between begin and end.
type window struct {
	dev *Device
	c0  DiskCounters
	ok  bool
}

// settle waits (bounded by Config.Settle) until the device is quiet, so
// that the write-back of earlier workloads is not charged to the next.
func (r *Runner) settle() {
	if r.Dev != nil && r.Cfg.Settle > 0 {
		r.Dev.Settle(r.Cfg.Settle)
	}
}

// begin starts a device window now.
func (r *Runner) begin() window {
	w := window{dev: r.Dev}
	if r.Dev == nil {
		return w
	}
	c, err := r.Dev.Read()
	w.c0, w.ok = c, err == nil
	return w
}

// end returns device bytes written since begin, or -1.
func (w window) end() int64 {
	if !w.ok {
		return -1
	}
	c, err := w.dev.Read()
	if err != nil {
		return -1
	}
	return c.Sub(w.c0).BytesWritten()
}

func (r *Runner) options(d engine.Durability) *engine.Options {
	o := r.Cfg.Options
	o.Durability = d
	o.Storage = nil
	return &o
}

// engineWriter returns a factory of AppendFuncs appending to s with
// expected version Any.
func engineWriter(ctx context.Context, s *engine.Store, batch int) func(int) AppendFunc {
	return func(int) AppendFunc {
		evs := make([]engine.Event, batch)
		bufs := make([]byte, batch*PayloadSize)
		for i := range evs {
			evs[i].Type = EventType
		}
		return func(stream string, si, first, n int) error {
			for j := range n {
				evs[j].Data = FillPayload(bufs[j*PayloadSize:], si, first+j)
			}
			_, err := s.Append(ctx, stream, engine.Any, evs[:n]...)
			return err
		}
	}
}

// RawRow runs the raw baseline with the given writers, events and batch,
// until ctx ends.
func (r *Runner) RawRow(ctx context.Context, workload, params string, writers, events, batch int) (Result, error) {
	res := Result{Workload: workload, Params: params, Durability: "raw-pre", Raw: true}
	dir := r.scratch("raw")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	streams := StreamNames(r.Cfg.Streams)
	r.settle()
	log, err := OpenRaw(filepath.Join(dir, "raw.log"), RawOptions{
		RecordSize: r.Cfg.RawRecordSize,
		Prealloc:   int64(events) * int64(r.Cfg.RawRecordSize),
		Chunk:      r.Cfg.RawChunk,
	})
	if err != nil {
		return res, err
	}
	ended, stopWatching := watchDone(ctx)
	defer stopWatching()
	w := r.begin()
	d, err := Drive(DriveSpec{Writers: writers, Events: events, Batch: batch, Streams: streams, Cap: r.Cfg.DurationCap},
		func(int) AppendFunc {
			data := make([][]byte, batch)
			bufs := make([]byte, batch*PayloadSize)
			return func(stream string, si, first, n int) error {
				if ended.Load() {
					return ctx.Err()
				}
				for j := range n {
					data[j] = FillPayload(bufs[j*PayloadSize:], si, first+j)
				}
				return log.Append(stream, data[:n]...)
			}
		})
	st := log.Stats()
	dev := w.end()
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("%s %s raw: %w", workload, params, err)
	}
	if st.Records != uint64(d.Events) {
		return res, fmt.Errorf("%s %s raw: %d records durable, %d acknowledged", workload, params, st.Records, d.Events)
	}
	res.setRates(d.Events, d.Events*PayloadSize, d.Elapsed)
	res.setLatency(d.Latency)
	res.setDevice(dev, int64(st.Bytes))
	res.Capped = d.Capped
	res.XRaw = 1
	res.Notes = fmt.Sprintf("%.1f calls/fdatasync, pwrite+fdatasync p50 %s p99 %s", float64(d.Calls)/float64(max(st.Commits, 1)),
		FormatDuration(st.Sync.At(0.5)), FormatDuration(st.Sync.At(0.99)))
	if st.Extended > 0 {
		res.Notes += fmt.Sprintf(", %d inline extensions", st.Extended)
	}
	return res, nil
}

// AppendRow runs appends on a fresh store: writers goroutines, events in
// total, batch events per Append, durability d.
func (r *Runner) AppendRow(ctx context.Context, workload, params string, d engine.Durability, writers, events, batch int) (Result, error) {
	res := Result{Workload: workload, Params: params, Durability: d.String()}
	dir := r.scratch("store")
	defer os.RemoveAll(dir)
	r.settle()
	opts := r.options(d)
	s, err := engine.Open(dir, opts)
	if err != nil {
		return res, err
	}
	defer s.Close()
	streams := StreamNames(r.Cfg.Streams)
	st0 := s.Stats()
	// The window starts right after Open: the spare segment Open starts
	// preparing in the background is charged to the workload.
	w := r.begin()
	dr, err := Drive(DriveSpec{Writers: writers, Events: events, Batch: batch, Streams: streams, Cap: r.Cfg.DurationCap},
		engineWriter(ctx, s, batch))
	if err != nil {
		return res, fmt.Errorf("%s %s %v: %w", workload, params, d, err)
	}
	var syncTime time.Duration
	if d != engine.SyncEachCommit {
		// Untimed, but inside the device window: what the run leaves
		// dirty is written here.
		t := time.Now()
		if err := s.Sync(); err != nil {
			return res, fmt.Errorf("%s %s: sync: %w", workload, params, err)
		}
		syncTime = time.Since(t)
	}
	waitSpares(dir, 15*time.Second)
	dev := w.end()
	st := s.Stats()
	if got := int64(st.Events - st0.Events); got != dr.Events {
		return res, fmt.Errorf("%s %s: store counted %d events, %d acknowledged", workload, params, got, dr.Events)
	}
	if err := checkVersions(s, streams, dr.Events); err != nil {
		return res, fmt.Errorf("%s %s: %w", workload, params, err)
	}
	res.setRates(dr.Events, dr.Events*PayloadSize, dr.Elapsed)
	res.setLatency(dr.Latency)
	res.setDevice(dev, int64(st.Bytes-st0.Bytes))
	res.Capped = dr.Capped
	if d == engine.NoSync {
		res.Notes = fmt.Sprintf("final Sync %s (untimed)", FormatDuration(syncTime))
	} else {
		res.Notes = commitNotes(st0, st)
		if d != engine.SyncEachCommit {
			res.Notes += fmt.Sprintf(", final Sync %s (untimed)", FormatDuration(syncTime))
		}
	}
	res.Notes += prepNotes(dir, opts, st.SegmentRolls-st0.SegmentRolls, dev, res.CommittedBytes)
	return res, nil
}

// checkVersions checks that the streams hold want events in total.
func checkVersions(s *engine.Store, streams []string, want int64) error {
	var total int64
	for _, name := range streams {
		v, err := s.StreamVersion(name)
		if err != nil {
			return err
		}
		total += v + 1
	}
	if total != want {
		return fmt.Errorf("streams hold %d events, %d were acknowledged", total, want)
	}
	return nil
}

// commitNotes summarises group commit from two Stats snapshots.
func commitNotes(a, b engine.Stats) string {
	commits := b.Commits - a.Commits
	appends := b.Appends - a.Appends
	s := ""
	if commits > 0 {
		s = fmt.Sprintf("%.1f appends/commit, msync p50 ≤%dµs p99 ≤%dµs", float64(appends)/float64(commits),
			b.MsyncMicros.Quantile(0.5), b.MsyncMicros.Quantile(0.99))
	} else {
		s = "no group commits"
	}
	if rolls := b.SegmentRolls - a.SegmentRolls; rolls > 0 {
		s += fmt.Sprintf(", %d segment rolls", rolls)
	}
	return s
}

// LoadStore is the L store, open, for the read workloads.
type LoadStore struct {
	Dir       string
	Store     *engine.Store
	Streams   []string
	PerStream int
	opts      *engine.Options
}

// Close closes the store (if open) and removes its directory.
func (l *LoadStore) Close() error {
	var err error
	if l.Store != nil {
		err = l.Store.Close()
		l.Store = nil
	}
	if rerr := os.RemoveAll(l.Dir); err == nil {
		err = rerr
	}
	return err
}

// Load runs L: LoadStreams x LoadPerStream events, LoadBatch per Append,
// streams round robin, NoSync, then Sync (timed). The store stays open.
func (r *Runner) Load(ctx context.Context, dir string) (*LoadStore, Result, error) {
	c := r.Cfg
	res := Result{Workload: "L", Params: fmt.Sprintf("%dx%d,b=%d", c.LoadStreams, c.LoadPerStream, c.LoadBatch), Durability: "NoSync+Sync"}
	if dir == "" {
		dir = r.scratch("load")
	}
	opts := r.options(engine.NoSync)
	r.settle()
	s, err := engine.Open(dir, opts)
	if err != nil {
		return nil, res, err
	}
	ls := &LoadStore{Dir: dir, Store: s, Streams: StreamNames(c.LoadStreams), PerStream: c.LoadPerStream, opts: opts}
	total := c.LoadStreams * c.LoadPerStream
	st0 := s.Stats()
	w := r.begin()
	start := time.Now()
	dr, err := Drive(DriveSpec{Writers: 1, Events: total, Batch: c.LoadBatch, Streams: ls.Streams},
		engineWriter(ctx, s, c.LoadBatch))
	var syncTime time.Duration
	if err == nil {
		t := time.Now()
		err = s.Sync()
		syncTime = time.Since(t)
	}
	elapsed := time.Since(start)
	waitSpares(dir, 15*time.Second)
	dev := w.end()
	if err != nil {
		_ = ls.Close()
		return nil, res, fmt.Errorf("load the read store: %w", err)
	}
	st := s.Stats()
	res.setRates(dr.Events, dr.Events*PayloadSize, elapsed)
	res.setLatency(dr.Latency)
	res.setDevice(dev, int64(st.Bytes-st0.Bytes))
	res.Notes = fmt.Sprintf("Sync %s included", FormatDuration(syncTime))
	if rolls := st.SegmentRolls - st0.SegmentRolls; rolls > 0 {
		res.Notes += fmt.Sprintf(", %d segment rolls", rolls)
	}
	res.Notes += prepNotes(dir, opts, st.SegmentRolls-st0.SegmentRolls, dev, res.CommittedBytes)
	return ls, res, nil
}

// ReadStreams runs W2 on the L store: a warm-up read of every stream, then
// Reads random whole streams forward, then Reads backward, until ctx ends.
// Every read is checked: stream, count and version order.
func (r *Runner) ReadStreams(ctx context.Context, ls *LoadStore) ([]Result, error) {
	s := ls.Store
	ended, stopWatching := watchDone(ctx)
	defer stopWatching()
	err := watch(r.Cfg.Stall, "W2 warm-up", func(progress *atomic.Int64) error {
		for i, name := range ls.Streams {
			if ended.Load() {
				return ctx.Err()
			}
			if _, _, err := readStream(s, name, engine.Forward, ls.PerStream); err != nil {
				return fmt.Errorf("W2 warm-up: %w", err)
			}
			progress.Store(int64(i + 1))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var out []Result
	for _, dir := range []engine.Direction{engine.Forward, engine.Backward} {
		p := "fwd"
		if dir == engine.Backward {
			p = "bwd"
		}
		lat := NewLatencies(r.Cfg.Reads)
		var (
			events, payload int64
			elapsed         time.Duration
		)
		err := watch(r.Cfg.Stall, "W2 "+p, func(progress *atomic.Int64) error {
			start := time.Now()
			for i := range r.Cfg.Reads {
				if ended.Load() {
					return ctx.Err()
				}
				name := ls.Streams[rng.IntN(len(ls.Streams))]
				t0 := time.Now()
				n, b, err := readStream(s, name, dir, ls.PerStream)
				lat.Add(time.Since(t0))
				if err != nil {
					return fmt.Errorf("W2: %w", err)
				}
				events += n
				payload += b
				progress.Store(int64(i + 1))
			}
			elapsed = time.Since(start)
			return nil
		})
		if err != nil {
			return nil, err
		}
		res := Result{Workload: "W2", Params: p, Durability: "-"}
		res.setRates(events, payload, elapsed)
		res.setLatency(MergeLatencies(lat))
		noDevice(&res)
		res.Notes = fmt.Sprintf("latency per %d-event stream, warm", ls.PerStream)
		out = append(out, res)
	}
	return out, nil
}

// readStream reads a whole stream and checks it: want events, the right
// stream, versions in order. It returns the events and payload bytes read.
func readStream(s *engine.Store, name string, dir engine.Direction, want int) (int64, int64, error) {
	var n, bytes int64
	from, next, step := int64(0), int64(0), int64(1)
	if dir == engine.Backward {
		from, next, step = engine.End, int64(want-1), -1
	}
	for ev, err := range s.ReadStream(name, from, dir) {
		if err != nil {
			return n, bytes, fmt.Errorf("read %s %v: %w", name, dir, err)
		}
		if ev.Version != next || ev.Stream != name {
			return n, bytes, fmt.Errorf("read %s %v: got %s version %d, want version %d", name, dir, ev.Stream, ev.Version, next)
		}
		next += step
		n++
		bytes += int64(len(ev.Data))
	}
	if n != int64(want) {
		return n, bytes, fmt.Errorf("read %s %v: %d events, want %d", name, dir, n, want)
	}
	return n, bytes, nil
}

// ScanAll runs W3: ReadAll(0) of the L store, counting events without
// touching the payload.
func (r *Runner) ScanAll(ls *LoadStore) (Result, error) {
	res := Result{Workload: "W3", Params: "ReadAll(0)", Durability: "-"}
	want := int64(len(ls.Streams) * ls.PerStream)
	var (
		n, payload int64
		elapsed    time.Duration
	)
	err := watch(r.Cfg.Stall, "W3 ReadAll(0)", func(progress *atomic.Int64) error {
		start := time.Now()
		var err error
		n, payload, err = scanAll(ls.Store, progress)
		elapsed = time.Since(start)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("W3: %w", err)
	}
	if n != want {
		return res, fmt.Errorf("W3: ReadAll returned %d events, want %d", n, want)
	}
	res.setRates(n, payload, elapsed)
	noDevice(&res)
	res.Notes = "log order, payload untouched"
	return res, nil
}

// ScanFiltered runs W3 with a stream-prefix filter ("users/1": about one
// stream in nine): events/s counts records scanned, most of them skipped
// from their headers.
func (r *Runner) ScanFiltered(ls *LoadStore) (Result, error) {
	const prefix = "users/1"
	res := Result{Workload: "W3", Params: "filter " + prefix, Durability: "-"}
	var want int64
	for _, name := range ls.Streams {
		if strings.HasPrefix(name, prefix) {
			want += int64(ls.PerStream)
		}
	}
	total := int64(len(ls.Streams) * ls.PerStream)
	var (
		n       int64
		elapsed time.Duration
	)
	err := watch(r.Cfg.Stall, "W3 filtered", func(progress *atomic.Int64) error {
		start := time.Now()
		defer func() { elapsed = time.Since(start) }()
		for _, err := range ls.Store.ReadAllFiltered(0, &engine.Filter{StreamPrefix: prefix}) {
			if err != nil {
				return fmt.Errorf("after %d events: %w", n, err)
			}
			n++
			if n&1023 == 0 {
				progress.Store(n)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("W3 filtered: %w", err)
	}
	if n != want {
		return res, fmt.Errorf("W3 filtered: %d events kept, want %d", n, want)
	}
	res.setRates(total, 0, elapsed)
	noDevice(&res)
	res.Notes = fmt.Sprintf("records scanned/s; %d of %d events kept, the rest skipped from their headers", n, total)
	return res, nil
}

// scanAll reads the whole log, counting events and payload bytes without
// touching the payload. Every 1024 events it stores the count into
// progress (when not nil), for the stall watchdog.
func scanAll(s *engine.Store, progress *atomic.Int64) (n, payload int64, err error) {
	for ev, err := range s.ReadAll(0) {
		if err != nil {
			return n, payload, fmt.Errorf("after %d events: %w", n, err)
		}
		n++
		payload += int64(len(ev.Data))
		if n&1023 == 0 && progress != nil {
			progress.Store(n)
		}
	}
	return n, payload, nil
}

// OpenClean runs W4: closes the L store, then opens it Opens times
// (closing in between), timing each Open by wall clock and by
// Store.OpenDuration. The store is left open.
func (r *Runner) OpenClean(ls *LoadStore) (Result, error) {
	res := Result{Workload: "W4", Params: "open clean", Durability: "-"}
	if ls.Store != nil {
		t := time.Now()
		err := ls.Store.Close()
		ls.Store = nil
		if err != nil {
			return res, fmt.Errorf("W4: close: %w", err)
		}
		res.Notes = fmt.Sprintf("close %s", FormatDuration(time.Since(t)))
	}
	walls := NewLatencies(r.Cfg.Opens)
	engs := NewLatencies(r.Cfg.Opens)
	last := ls.Streams[len(ls.Streams)-1]
	for i := range r.Cfg.Opens {
		t := time.Now()
		s, err := engine.Open(ls.Dir, ls.opts)
		wall := time.Since(t)
		if err != nil {
			return res, fmt.Errorf("W4: open: %w", err)
		}
		ls.Store = s
		walls.Add(wall)
		engs.Add(s.OpenDuration())
		rec := s.Recovered()
		if !rec.Clean || rec.RebuiltIndex {
			return res, fmt.Errorf("W4: open after a clean close was not clean: %+v", rec)
		}
		if v, err := s.StreamVersion(last); err != nil || v != int64(ls.PerStream-1) {
			return res, fmt.Errorf("W4: %s at version %d (%v) after reopen, want %d", last, v, err, ls.PerStream-1)
		}
		if i < r.Cfg.Opens-1 {
			ls.Store = nil
			if err := s.Close(); err != nil {
				return res, fmt.Errorf("W4: close: %w", err)
			}
		}
	}
	wq, eq := MergeLatencies(walls), MergeLatencies(engs)
	res.P50 = wq.At(0.5)
	noDevice(&res)
	res.Events = int64(len(ls.Streams) * ls.PerStream)
	res.Seconds = wq.At(0.5).Seconds()
	note := fmt.Sprintf("%d opens of %d events: wall p50 %s max %s, OpenDuration p50 %s", r.Cfg.Opens, res.Events,
		FormatDuration(wq.At(0.5)), FormatDuration(wq.Max()), FormatDuration(eq.At(0.5)))
	if res.Notes != "" {
		note += ", " + res.Notes
	}
	res.Notes = note
	return res, nil
}

// OpenCrashed runs W5: the L store's files are copied while it is open and
// idle — what a kill -9 leaves behind: the page cache holds every write,
// the index was never marked clean — and the copy is opened a few times
// (each time from a fresh copy), timing Open and checking the streams.
func (r *Runner) OpenCrashed(ls *LoadStore) (Result, error) {
	res := Result{Workload: "W5", Params: "open after kill", Durability: "-"}
	if ls.Store == nil {
		return res, errors.New("W5: the load store is not open")
	}
	waitSpares(ls.Dir, 15*time.Second)
	walls := NewLatencies(r.Cfg.Opens)
	var rec engine.Recovery
	last := ls.Streams[len(ls.Streams)-1]
	for range r.Cfg.Opens {
		dir := r.scratch("crashed")
		if err := copyDir(ls.Dir, dir); err != nil {
			os.RemoveAll(dir)
			return res, fmt.Errorf("W5: copy the open store: %w", err)
		}
		t := time.Now()
		s, err := engine.Open(dir, ls.opts)
		wall := time.Since(t)
		if err != nil {
			os.RemoveAll(dir)
			return res, fmt.Errorf("W5: open: %w", err)
		}
		walls.Add(wall)
		rec = s.Recovered()
		v, verr := s.StreamVersion(last)
		cerr := s.Close()
		os.RemoveAll(dir)
		if verr != nil || v != int64(ls.PerStream-1) {
			return res, fmt.Errorf("W5: %s at version %d (%v) after recovery, want %d", last, v, verr, ls.PerStream-1)
		}
		if cerr != nil {
			return res, fmt.Errorf("W5: close: %w", cerr)
		}
		if rec.Clean {
			return res, fmt.Errorf("W5: the copy of an open store opened clean: %+v", rec)
		}
	}
	q := MergeLatencies(walls)
	res.P50, res.P99 = q.At(0.5), q.Max()
	noDevice(&res)
	res.Events = int64(len(ls.Streams) * ls.PerStream)
	res.Seconds = q.At(0.5).Seconds()
	how := "index replayed from its checkpoint"
	if rec.RebuiltIndex {
		how = "index rebuilt from the whole log"
	}
	res.Notes = fmt.Sprintf("%d opens of %d events, page cache warm: wall p50 %s max %s; %s, %d records scanned, %s torn",
		r.Cfg.Opens, res.Events, FormatDuration(q.At(0.5)), FormatDuration(q.Max()), how, rec.Records, FormatBytes(rec.TornBytes))
	return res, nil
}

// copyDir copies the regular files of src into a new directory dst and
// syncs them.
func copyDir(src, dst string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// After a kill -9 of a durable store the page cache holds its files
	// clean; a fresh copy would leave them dirty, and recovery, which
	// syncs what it keeps, would pay for writing the copy back.
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Spare segment files, as the engine names them while it prepares one
// (spare-*.tmp) and once it is ready (spare-*.ready). The harness only
// looks at the names to account for device writes.
func spareFiles(dir string) (tmp, ready int) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, "spare-") {
			continue
		}
		switch {
		case strings.HasSuffix(n, ".tmp"):
			tmp++
		case strings.HasSuffix(n, ".ready"):
			ready++
		}
	}
	return tmp, ready
}

// waitSpares waits (at most limit) until no spare segment is being
// prepared in dir, so a device window ends with whole preparations only.
func waitSpares(dir string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		if tmp, _ := spareFiles(dir); tmp == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// prepNotes tells how many spare segments were prepared inside a device
// window (each roll used one; a ready spare may be left) and, for
// zero-filled segments, the device bytes per committed byte without them.
func prepNotes(dir string, o *engine.Options, rolls uint64, dev, committed int64) string {
	_, ready := spareFiles(dir)
	spares := int64(rolls) + int64(ready)
	if spares == 0 {
		return ""
	}
	size := o.SegmentSize
	if size == 0 {
		size = engine.DefaultSegmentSize
	}
	s := fmt.Sprintf(", %d spare segment(s) of %s prepared in the window", spares, FormatBytes(size))
	if o.SegmentPrep.String() == "zero-fill" && dev >= 0 && committed > 0 {
		s += fmt.Sprintf(" (dev B/B without their zero-fill ≈ %.2f)", max(float64(dev-spares*size), 0)/float64(committed))
	}
	return s
}

// watchDone returns a flag that turns true when ctx ends, for loops that
// check it at every step: a load, where ctx.Err takes a lock that hundreds
// of writers would contend for. stop releases the watch.
func watchDone(ctx context.Context) (ended *atomic.Bool, stop func() bool) {
	ended = new(atomic.Bool)
	stop = context.AfterFunc(ctx, func() { ended.Store(true) })
	if ctx.Err() != nil {
		ended.Store(true) // AfterFunc's goroutine may not have run yet
	}
	return ended, stop
}
