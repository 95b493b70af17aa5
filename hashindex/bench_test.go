package hashindex

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
)

// synthFP is a cheap, well-mixed fingerprint for key i (splitmix64), so the
// benchmarks measure the table rather than the stream-ID hashes.
func synthFP(i uint64) Fingerprint {
	mix := func(z uint64) uint64 {
		z += 0x9e3779b97f4a7c15
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	return Fingerprint{Hi: mix(i), Lo: mix(i ^ 0x5555_5555_5555_5555)}
}

const benchEntries = 1 << 20

// benchIndex builds an index of benchEntries keys, key i at tail i.
func benchIndex(b *testing.B) *Index { return benchIndexOf(b, benchEntries) }

func benchIndexOf(b *testing.B, entries int) *Index {
	fs, _ := newFS(b)
	ix := mustCreate(b, fs, "index", uint64(entries)*4/3+1)
	for i := range uint64(entries) {
		if err := ix.Put(synthFP(i), Entry{Tail: i, State: Live}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { _ = ix.Close() })
	return ix
}

func BenchmarkLookup(b *testing.B) {
	ix := benchIndex(b)
	keys := rand.Perm(benchEntries)
	// The match checks the tail, as the engine's would check the record.
	var want uint64
	match := func(e Entry) (bool, error) { return e.Tail == want, nil }

	b.Run("hit", func(b *testing.B) {
		k := 0
		for b.Loop() {
			want = uint64(keys[k])
			if _, ok, err := ix.Lookup(synthFP(want), match); !ok || err != nil {
				b.Fatalf("key %d: %v %v", want, ok, err)
			}
			k = (k + 1) % benchEntries
		}
	})
	b.Run("miss", func(b *testing.B) {
		i := uint64(benchEntries)
		for b.Loop() {
			if _, ok, err := ix.Lookup(synthFP(i), match); ok || err != nil {
				b.Fatalf("key %d: %v %v", i, ok, err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
			for pb.Next() {
				k := rng.Uint64N(benchEntries)
				if _, ok, err := ix.Lookup(synthFP(k), func(e Entry) (bool, error) { return e.Tail == k, nil }); !ok || err != nil {
					b.Fatalf("key %d: %v %v", k, ok, err)
				}
			}
		})
	})
}

// BenchmarkLookupCached is Lookup on a table small enough (16 Ki entries,
// 1.5 MiB) to stay in the CPU caches: the index's own cost, without the
// cache and TLB misses that dominate BenchmarkLookup.
func BenchmarkLookupCached(b *testing.B) {
	const entries = 1 << 14
	ix := benchIndexOf(b, entries)
	var want uint64
	match := func(e Entry) (bool, error) { return e.Tail == want, nil }
	for b.Loop() {
		want = (want + 7919) % entries
		if _, ok, err := ix.Lookup(synthFP(want), match); !ok || err != nil {
			b.Fatalf("key %d: %v %v", want, ok, err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	b.Run("overwrite", func(b *testing.B) {
		ix := benchIndex(b)
		keys := rand.Perm(benchEntries)
		var want uint64
		match := func(e Entry) (bool, error) { return e.Tail == want, nil }
		k := 0
		for b.Loop() {
			want = uint64(keys[k])
			if err := ix.Put(synthFP(want), Entry{Tail: want, Version: 1, State: Live}, match); err != nil {
				b.Fatal(err)
			}
			k = (k + 1) % benchEntries
		}
	})
	b.Run("insert-presized", func(b *testing.B) {
		// Room for 1.5 Mi streams: pure inserts, no growth in a normal run.
		// Most inserts land on a page never written before, so this mostly
		// measures the kernel's first-write fault on a shared file mapping
		// (page_mkwrite), which overwrite (pages already dirty) avoids.
		fs, _ := newFS(b)
		ix := mustCreate(b, fs, "index", 1<<21)
		defer ix.Close()
		i := uint64(0)
		for b.Loop() {
			if err := ix.Put(synthFP(i), Entry{Tail: i, State: Live}, nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("insert", func(b *testing.B) {
		// From 16 slots: the cost includes every growth on the way.
		fs, _ := newFS(b)
		ix := mustCreate(b, fs, "index", 16)
		defer ix.Close()
		i := uint64(0)
		for b.Loop() {
			if err := ix.Put(synthFP(i), Entry{Tail: i, State: Live}, nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(ix.Slots()), "slots")
	})
}

func BenchmarkFingerprintString(b *testing.B) {
	id := "order-1234567890"
	for b.Loop() {
		_ = FingerprintString(id)
	}
}

// BenchmarkGrowthPause times the Put that doubles a full table of
// -growth.slots slots (the pause the writer sees), with the next file
// made by the growth itself or prepared beforehand (PrepareGrowth), on
// the OS file system. One op is one growth; the setup of each is untimed.
//
//	go test ./hashindex -run '^$' -bench GrowthPause -benchtime 5x
func BenchmarkGrowthPause(b *testing.B) {
	for _, prepared := range []bool{false, true} {
		b.Run(fmt.Sprintf("slots=%d/prepared=%v", *growthSlots, prepared), func(b *testing.B) {
			full := *growthSlots * 3 / 4 // the next insert grows the table
			for range b.N {
				b.StopTimer()
				fs, _ := newFS(b)
				ix := mustCreate(b, fs, "index", *growthSlots)
				for i := range full {
					if err := ix.Put(synthFP(i), Entry{Tail: i, State: Live}, nil); err != nil {
						b.Fatal(err)
					}
				}
				if prepared {
					if err := ix.PrepareGrowth(); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if err := ix.Put(synthFP(full), Entry{Tail: full, State: Live}, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if ix.Slots() != 2**growthSlots {
					b.Fatalf("%d slots after the growth", ix.Slots())
				}
				if err := ix.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var growthSlots = flag.Uint64("growth.slots", 1<<20, "BenchmarkGrowthPause: slots of the table that grows")
