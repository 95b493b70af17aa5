package compaction_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// crashScenario builds a log and names the run to compact in it.
type crashScenario struct {
	name     string
	keep     compaction.Keep
	prepare  func(t *testing.T) *logFixture
	from, to int
}

func crashScenarios() []crashScenario {
	return []crashScenario{
		{"merge three", keepEven, func(t *testing.T) *logFixture { return newLog(t, 10, 4, 9000) }, 0, 3},
		{"one segment", keepEven, func(t *testing.T) *logFixture { return newLog(t, 11, 2, 9000) }, 1, 2},
		{"compacted and ordinary", func(r *segment.Record) bool { return keepEven(r) && r.Version%3 != 0 },
			func(t *testing.T) *logFixture {
				lf := newLog(t, 12, 4, 9000)
				rewrite(t, lf, 1, 2, keepEven)
				return lf
			}, 1, 3},
		{"keep nothing", keepNone, func(t *testing.T) *logFixture { return newLog(t, 13, 3, 9000) }, 0, 2},
	}
}

// resolutions are the ways a crash is settled: nothing unsynced kept,
// everything kept, and random mixes.
func resolutions() []simfs.Resolution {
	r := []simfs.Resolution{simfs.DropAll, simfs.KeepAll}
	for range 8 {
		r = append(r, simfs.Random)
	}
	return r
}

// crashAndCheck crashes fs in every resolution, runs Cleanup on what
// comes back and checks the invariant there. want, when not "", says
// which state every crash must leave: "old" or "new". It returns how many
// crashes left each.
func crashAndCheck(t *testing.T, fs *simfs.FS, e *expectation, seed uint64, want string) (olds, news int) {
	t.Helper()
	for i, res := range resolutions() {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		back := fs.Crash(rng, res)
		if _, err := compaction.Cleanup(back); err != nil {
			t.Fatalf("%v crash: Cleanup: %v", res, err)
		}
		isNew := e.check(t, back)
		noTemp(t, back)
		if rep, err := compaction.Cleanup(back); err != nil || len(rep.RolledBack)+len(rep.RolledForward) != 0 {
			t.Fatalf("%v crash: Cleanup again: %+v, %v", res, rep, err)
		}
		got := "old"
		if isNew {
			got = "new"
			news++
		} else {
			olds++
		}
		if want != "" && got != want {
			t.Fatalf("%v crash left the %s state, want the %s one", res, got, want)
		}
	}
	return olds, news
}

// TestRewriteCrashAtEveryOp cuts the power after each storage operation
// of a Rewrite in turn (and after it completes), settles the crash in
// every way simfs can, and requires that Cleanup then leaves exactly the
// old segments or exactly the compacted one: every kept record readable
// at its position, byte for byte, no temp file, every position covered
// once. Before the rename is served every crash must give the old state;
// once the directory sync after it is, the new one.
func TestRewriteCrashAtEveryOp(t *testing.T) {
	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			var olds, news int
			for k := int64(1); ; k++ {
				lf := sc.prepare(t)
				e := lf.expect(t, sc.from, sc.to, sc.keep)
				run := lf.sources(t, lf.fs, sc.from, sc.to)
				before := lf.fs.Stats()
				lf.fs.FreezeAfter(lf.fs.Ops() + k)
				_, err := compaction.Rewrite(context.Background(), lf.fs, run, sc.keep, nil)
				frozen := lf.fs.Frozen()
				switch {
				case frozen && !errors.Is(err, simfs.ErrCrashed):
					t.Fatalf("op %d: Rewrite on a crashed FS: %v", k, err)
				case !frozen && err != nil:
					t.Fatalf("op %d: %v", k, err)
				}
				after := lf.fs.Stats()
				renamed := after.Ops[simfs.OpRename] > before.Ops[simfs.OpRename]
				// The first directory sync after the rename counts.
				durable := renamed && after.Ops[simfs.OpSyncDir] > before.Ops[simfs.OpSyncDir]
				want := ""
				switch {
				case !renamed:
					want = "old"
				case durable:
					want = "new"
				}
				o, n := crashAndCheck(t, lf.fs, e, uint64(k), want)
				olds, news = olds+o, news+n
				if !frozen {
					t.Logf("%d operations, crashes left %d old and %d new states", k, olds, news)
					break
				}
			}
			if olds == 0 || news == 0 {
				t.Fatalf("crashes left %d old and %d new states: the test does not reach both", olds, news)
			}
		})
	}
}

// TestRewriteInjectedFailures fails each storage operation of a Rewrite
// in turn: Rewrite must return an error that says so (and ErrSwapIncomplete
// once the rename was served), and both the directory as the failure left
// it and any crash after it must pass the invariant once Cleanup ran.
func TestRewriteInjectedFailures(t *testing.T) {
	ops := []simfs.Op{simfs.OpCreate, simfs.OpSync, simfs.OpRename, simfs.OpSyncDir, simfs.OpRemove}
	for _, sc := range crashScenarios() {
		// How often a clean Rewrite calls each operation.
		lf := sc.prepare(t)
		run := lf.sources(t, lf.fs, sc.from, sc.to)
		before := lf.fs.Stats()
		if _, err := compaction.Rewrite(context.Background(), lf.fs, run, sc.keep, nil); err != nil {
			t.Fatal(err)
		}
		after := lf.fs.Stats()
		for _, op := range ops {
			calls := after.Ops[op] - before.Ops[op]
			for k := int64(1); k <= calls; k++ {
				t.Run(fmt.Sprintf("%s/%v#%d", sc.name, op, k), func(t *testing.T) {
					lf := sc.prepare(t)
					e := lf.expect(t, sc.from, sc.to, sc.keep)
					run := lf.sources(t, lf.fs, sc.from, sc.to)
					before := lf.fs.Stats()
					lf.fs.FailNth(op, k)
					res, err := compaction.Rewrite(context.Background(), lf.fs, run, sc.keep, nil)
					if !errors.Is(err, simfs.ErrInjected) {
						t.Fatalf("Rewrite: %v, want the injected failure", err)
					}
					if res.File != nil {
						t.Fatal("a failed Rewrite returned a file")
					}
					renamed := lf.fs.Stats().Ops[simfs.OpRename] > before.Ops[simfs.OpRename] && !(op == simfs.OpRename)
					if renamed != errors.Is(err, compaction.ErrSwapIncomplete) {
						t.Fatalf("renamed %v, error %v", renamed, err)
					}
					// The store reopening without a crash.
					if _, err := compaction.Cleanup(lf.fs); err != nil {
						t.Fatalf("Cleanup: %v", err)
					}
					if isNew := e.check(t, lf.fs); isNew != renamed {
						t.Fatalf("after Cleanup, compacted %v; renamed %v", isNew, renamed)
					}
					noTemp(t, lf.fs)
					crashAndCheck(t, lf.fs, e, uint64(k), "")
				})
			}
		}
	}
}

// TestCleanupCrashAtEveryOp interrupts a Cleanup that rolls a compaction
// forward after each of its operations: the next Cleanup finishes it.
func TestCleanupCrashAtEveryOp(t *testing.T) {
	for k := int64(1); ; k++ {
		lf := newLog(t, 14, 4, 9000)
		e := lf.expect(t, 0, 3, keepEven)
		lf.fs.FailNth(simfs.OpRemove, 1) // the rename happened, no removal did
		if _, err := compaction.Rewrite(context.Background(), lf.fs, lf.sources(t, lf.fs, 0, 3), keepEven, nil); !errors.Is(err, compaction.ErrSwapIncomplete) {
			t.Fatalf("Rewrite: %v", err)
		}
		// A temp file to roll back as well.
		if f, err := lf.fs.Create(compaction.TempName(lf.segs[3].base), 4096); err != nil {
			t.Fatal(err)
		} else {
			_ = f.Close()
		}
		if err := lf.fs.SyncDir(); err != nil {
			t.Fatal(err)
		}
		lf.fs.FreezeAfter(lf.fs.Ops() + k)
		_, err := compaction.Cleanup(lf.fs)
		frozen := lf.fs.Frozen()
		if frozen != (err != nil) {
			t.Fatalf("op %d: frozen %v, Cleanup: %v", k, frozen, err)
		}
		crashAndCheck(t, lf.fs, e, uint64(k), "new")
		if !frozen {
			break
		}
	}
}
