package bench

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spooldb/spool/engine"
)

// Benchmark families. Append benchmarks count b.N events (b.N Append
// calls for the batch family); read benchmarks run on a shared load store
// built once (-spool.load streams x events, 10 per Append). All report
// events/s; latency-bound ones also p50/p99 per call. Keep sizes small:
// `go test -bench . -benchtime=1x ./bench` runs each once.
var (
	flagLoad    = flag.String("spool.load", "100x1000", "load store for read benchmarks: streams x events per stream")
	flagSegment = flag.Int64("spool.segment", 0, "segment size in bytes for append benchmarks (0: engine default)")
	flagPrep    = flag.String("spool.prep", "", "segment preparation for append benchmarks: zero-fill or fallocate (empty: engine default)")
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	fixture.close()
	os.Exit(code)
}

func benchOptions(b *testing.B, d engine.Durability) *engine.Options {
	o := &engine.Options{Durability: d, SegmentSize: *flagSegment}
	if *flagPrep != "" {
		if err := SetPrep(o, *flagPrep); err != nil {
			b.Fatal(err)
		}
	}
	return o
}

func benchAppend(b *testing.B, d engine.Durability, writers, batch int) {
	benchAppendWith(b, d, writers, batch, nil)
}

// benchAppendWith is benchAppend with setup run on the store before the
// timer starts; the function setup returns runs after the appends.
func benchAppendWith(b *testing.B, d engine.Durability, writers, batch int, setup func(*engine.Store) func()) {
	s, err := engine.Open(b.TempDir(), benchOptions(b, d))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if setup != nil {
		defer setup(s)()
	}
	streams := StreamNames(DefaultStreams)
	events := b.N * batch
	b.SetBytes(int64(batch * PayloadSize))
	b.ResetTimer()
	res, err := Drive(DriveSpec{Writers: writers, Events: events, Batch: batch, Streams: streams},
		engineWriter(context.Background(), s, batch))
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Events != int64(events) {
		b.Fatalf("%d events acknowledged, want %d", res.Events, events)
	}
	reportDrive(b, res)
}

func reportDrive(b *testing.B, res DriveResult) {
	b.ReportMetric(float64(res.Events)/res.Elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(res.Latency.At(0.5))/1e3, "p50-µs")
	b.ReportMetric(float64(res.Latency.At(0.99))/1e3, "p99-µs")
}

func BenchmarkAppendDurable(b *testing.B) {
	for _, w := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) { benchAppend(b, engine.SyncEachCommit, w, 1) })
	}
}

// BenchmarkAppendStreamSubscribers times durable appends by 16 writers
// while subscribers=N SubscribeStream subscribers wait on streams nobody
// writes to: they should cost the writers next to nothing (compare
// subscribers=0). Each idle stream holds one event, and the timer starts
// once every subscriber has read it and waits.
func BenchmarkAppendStreamSubscribers(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			benchAppendWith(b, engine.SyncEachCommit, 16, 1, func(s *engine.Store) func() {
				return idleStreamSubscribers(b, s, n)
			})
		})
	}
}

// idleStreamSubscribers appends one event to each of n idle streams and
// starts a SubscribeStream subscriber on each, returning once all of them
// have read their event and wait; the function it returns ends them.
func idleStreamSubscribers(b *testing.B, s *engine.Store, n int) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var subs, caughtUp sync.WaitGroup
	for i := range n {
		stream := fmt.Sprintf("idle/%d", i)
		if _, err := s.Append(ctx, stream, engine.NoStream, engine.Event{Type: EventType, Data: []byte("{}")}); err != nil {
			cancel()
			subs.Wait()
			b.Fatal(err)
		}
		subs.Add(1)
		caughtUp.Add(1)
		go func() {
			defer subs.Done()
			events := 0
			for _, err := range s.SubscribeStream(ctx, stream, 0) {
				if err != nil {
					return // the cancel at the end
				}
				if events++; events > 1 {
					b.Error("a second event on a stream nobody writes to")
				} else {
					caughtUp.Done()
				}
			}
		}()
	}
	caughtUp.Wait()
	return func() {
		cancel()
		subs.Wait()
	}
}

func BenchmarkAppendNoSync(b *testing.B) {
	for _, w := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) { benchAppend(b, engine.NoSync, w, 1) })
	}
}

// BenchmarkAppendBatch100 times durable Appends of 100 events each (one
// op = one Append).
func BenchmarkAppendBatch100(b *testing.B) { benchAppend(b, engine.SyncEachCommit, 1, 100) }

func BenchmarkRawGroupCommit(b *testing.B) {
	for _, c := range []struct{ writers, batch int }{{1, 1}, {16, 1}, {256, 1}, {1, 100}} {
		name := fmt.Sprintf("writers=%d", c.writers)
		if c.batch > 1 {
			name = fmt.Sprintf("batch=%d", c.batch)
		}
		b.Run(name, func(b *testing.B) {
			events := b.N * c.batch
			log, err := OpenRaw(filepath.Join(b.TempDir(), "raw.log"), RawOptions{Prealloc: int64(events) * DefaultRawRecordSize})
			if err != nil {
				b.Fatal(err)
			}
			defer log.Close()
			b.SetBytes(int64(c.batch * PayloadSize))
			b.ResetTimer()
			res, err := Drive(DriveSpec{Writers: c.writers, Events: events, Batch: c.batch, Streams: StreamNames(DefaultStreams)},
				func(int) AppendFunc {
					data := make([][]byte, c.batch)
					bufs := make([]byte, c.batch*PayloadSize)
					return func(stream string, si, first, n int) error {
						for j := range n {
							data[j] = FillPayload(bufs[j*PayloadSize:], si, first+j)
						}
						return log.Append(stream, data[:n]...)
					}
				})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			reportDrive(b, res)
		})
	}
}

// fixture is the load store shared by the read benchmarks.
var fixture loadFixtureState

type loadFixtureState struct {
	once sync.Once
	dir  string
	ls   *LoadStore
	err  error
}

func (f *loadFixtureState) close() {
	if f.ls != nil {
		_ = f.ls.Close()
	}
	if f.dir != "" {
		_ = os.RemoveAll(f.dir)
	}
}

func loadFixture(b *testing.B) *LoadStore {
	b.Helper()
	fixture.once.Do(func() {
		streams, per, err := ParseLoad(*flagLoad)
		if err != nil || per%10 != 0 {
			fixture.err = fmt.Errorf("bad -spool.load %q (want SxE, E a multiple of 10)", *flagLoad)
			return
		}
		fixture.dir, fixture.err = os.MkdirTemp("", "spool-bench-fixture-")
		if fixture.err != nil {
			return
		}
		r := NewRunner(Config{LoadStreams: streams, LoadPerStream: per, Settle: -1}, fixture.dir, nil)
		fixture.ls, _, fixture.err = r.Load(context.Background(), filepath.Join(fixture.dir, "L"))
		if fixture.err == nil {
			_, fixture.err = r.ReadStreams(context.Background(), fixture.ls) // warm-up and check
		}
	})
	if fixture.err != nil {
		b.Fatal(fixture.err)
	}
	return fixture.ls
}

func BenchmarkReadStream(b *testing.B) {
	for _, dir := range []engine.Direction{engine.Forward, engine.Backward} {
		b.Run(dir.String(), func(b *testing.B) {
			ls := loadFixture(b)
			rng := rand.New(rand.NewPCG(3, 4))
			lat := NewLatencies(b.N)
			b.SetBytes(int64(ls.PerStream * PayloadSize))
			b.ResetTimer()
			for range b.N {
				t := time.Now()
				if _, _, err := readStream(ls.Store, ls.Streams[rng.IntN(len(ls.Streams))], dir, ls.PerStream); err != nil {
					b.Fatal(err)
				}
				lat.Add(time.Since(t))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*ls.PerStream)/b.Elapsed().Seconds(), "events/s")
			q := MergeLatencies(lat)
			b.ReportMetric(float64(q.At(0.5))/1e3, "p50-µs")
			b.ReportMetric(float64(q.At(0.99))/1e3, "p99-µs")
		})
	}
}

func BenchmarkReadAll(b *testing.B) {
	ls := loadFixture(b)
	total := int64(len(ls.Streams) * ls.PerStream)
	b.SetBytes(total * PayloadSize)
	b.ResetTimer()
	for range b.N {
		n, _, err := scanAll(ls.Store, nil)
		if err != nil {
			b.Fatal(err)
		}
		if n != total {
			b.Fatalf("ReadAll returned %d events, want %d", n, total)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadAllFiltered scans the whole log keeping about one stream in
// ten, by stream prefix (rejected records skipped from their stream ID) and
// by a Match predicate (rejected records skipped from their header).
// records/s counts records scanned.
func BenchmarkReadAllFiltered(b *testing.B) {
	filters := []struct {
		name string
		f    *engine.Filter
	}{
		{"prefix", &engine.Filter{StreamPrefix: "users/1"}},
		{"match", &engine.Filter{Match: func(h *engine.EventHeader) bool { return len(h.Stream) > 0 && h.Stream[len(h.Stream)-1] == '7' }}},
	}
	for _, f := range filters {
		b.Run(f.name, func(b *testing.B) {
			ls := loadFixture(b)
			total := int64(len(ls.Streams) * ls.PerStream)
			b.ResetTimer()
			for range b.N {
				var n int64
				for _, err := range ls.Store.ReadAllFiltered(0, f.f) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n == 0 || n > total/5 {
					b.Fatalf("filter kept %d of %d events", n, total)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// reopenTimed closes the load store (untimed), runs prepare on its
// directory (untimed), and times one Open of it, which it leaves open.
func reopenTimed(b *testing.B, ls *LoadStore, prepare func()) *engine.Store {
	b.StopTimer()
	if ls.Store != nil {
		if err := ls.Store.Close(); err != nil {
			b.Fatal(err)
		}
		ls.Store = nil
	}
	prepare()
	opts := *ls.opts
	b.StartTimer()
	s, err := engine.Open(ls.Dir, &opts)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	ls.Store = s
	return s
}

// BenchmarkOpenClean times Open of the load store after a clean Close
// (one op = one Open; Close is not timed).
func BenchmarkOpenClean(b *testing.B) {
	ls := loadFixture(b)
	b.ResetTimer() // building the fixture is not an Open
	var engineTime time.Duration
	for range b.N {
		s := reopenTimed(b, ls, func() {})
		engineTime += s.OpenDuration()
		if !s.Recovered().Clean {
			b.Fatalf("open after clean close not clean: %+v", s.Recovered())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/open")
	b.ReportMetric(float64(engineTime.Microseconds())/1e3/float64(b.N), "engine-ms/open")
}

// BenchmarkOpenRebuild times Open of the load store without its index: the
// whole log is scanned (every checksum verified, every chain followed) and
// the index rebuilt. The log is in the page cache; MB/s counts log bytes.
// The default 22 MB store mostly times what every rebuild costs once
// (creating and syncing the index file, about 40 ms here); the scan rate
// shows with a larger one: -spool.load=1000x1000 (224 MB of log) ran at
// 1.17-1.37 GB/s on the 2-core VM (0.74-0.76 GB/s before recovery read
// segments with pread instead of faulting their mappings in).
func BenchmarkOpenRebuild(b *testing.B) {
	ls := loadFixture(b)
	b.ResetTimer() // building the fixture is not an Open
	var logBytes int64
	for range b.N {
		s := reopenTimed(b, ls, func() {
			if err := os.Remove(filepath.Join(ls.Dir, "index")); err != nil {
				b.Fatal(err)
			}
		})
		rec := s.Recovered()
		if !rec.RebuiltIndex || rec.Records != len(ls.Streams)*ls.PerStream {
			b.Fatalf("open without an index: %+v", rec)
		}
		logBytes = int64(rec.LogEnd) // log positions count record bytes
	}
	b.SetBytes(logBytes)
}

// BenchmarkCompact rewrites a store (-spool.load streams x events) whose
// streams are 50% or 90% deleted: b.N stores, each built untimed.
// MB/s is of segment bytes read.
func BenchmarkCompact(b *testing.B) {
	for _, dead := range []int{50, 90} {
		b.Run(fmt.Sprintf("dead=%d%%", dead), func(b *testing.B) {
			var streams, perStream int
			if _, err := fmt.Sscanf(*flagLoad, "%dx%d", &streams, &perStream); err != nil || streams < 1 || perStream%10 != 0 {
				b.Fatalf("bad -spool.load %q", *flagLoad)
			}
			cfg := Config{LoadStreams: streams, LoadPerStream: perStream, LoadBatch: 10, Settle: -1}
			cfg.Options.SegmentSize = *flagSegment
			r := NewRunner(cfg, b.TempDir(), nil)
			var in, out int64
			var took time.Duration
			for range b.N {
				b.StopTimer()
				err := r.withDeadStore(context.Background(), dead, func(s *engine.Store) error {
					b.StartTimer()
					rep, err := s.Compact(context.Background(), &engine.CompactOptions{MinDeadRatio: 0.01, BytesPerSecond: -1})
					b.StopTimer()
					in, out, took = in+rep.BytesBefore, out+rep.BytesAfter, took+rep.Duration
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(in)/1e6/took.Seconds(), "MB/s")
			b.ReportMetric(100*float64(out)/float64(in), "%kept")
		})
	}
}
