package fuzz

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// inputDeadline bounds one input's work. Inputs take milliseconds; the
// margin is for -race and a loaded machine. An input that needs longer is
// reported as a hang with every goroutine's stack.
const inputDeadline = 20 * time.Second

// bounded runs check on its own goroutine and fails t when it reports a
// property violation, panics, runs past inputDeadline or allocates more than
// maxAlloc bytes (counted over the whole process, so that allocations of
// goroutines the check starts count too). It returns the check's outcome.
func bounded(t testing.TB, maxAlloc uint64, check func() (string, error)) string {
	t.Helper()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
			}
		}()
		out, err := check()
		done <- result{out, err}
	}()
	timer := time.NewTimer(inputDeadline)
	defer timer.Stop()
	select {
	case r := <-done:
		runtime.ReadMemStats(&after)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > maxAlloc {
			t.Fatalf("input allocated %d bytes, more than the %d its size allows (outcome %q)", n, maxAlloc, r.out)
		}
		return r.out
	case <-timer.C:
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("input still running after %v (hang?):\n%s", inputDeadline, buf)
	}
	return ""
}

// Allocation budgets: a fixed allowance for error messages, maps and
// buffers, plus a few times the input, which the checks themselves copy.
// An allocation sized by an unverified length field (up to 4 GiB) blows
// through them.
func recordBudget(n int) uint64 { return 256<<10 + 8*uint64(n) }
func scanBudget(n int) uint64   { return 2<<20 + 24*uint64(n) }
func indexBudget(n int) uint64  { return 1<<20 + 8*uint64(n) }
func dirBudget(n int) uint64    { return 8<<20 + 8*uint64(n) }

// FuzzRecordDecode: segment.Decode and segment.Peek over any bytes, at any
// offset (negative and past the end included) and position, never panic,
// never allocate, fail only with a *segment.CorruptionError at the offset,
// and accept only records that re-encode to the same bytes.
func FuzzRecordDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, off int64, pos uint64, mode uint8) {
		bounded(t, recordBudget(len(data)), func() (string, error) {
			return checkRecord(data, off, pos, mode)
		})
	})
}

// FuzzSegmentScan: one or two segment images (a valid header over fuzzed
// bytes, or fuzzed bytes alone) scan consistently, and recovery.Rebuild on
// them either refuses with a corruption error leaving them untouched, or
// cuts them to a log that rescans cleanly with an index that finds every
// stream's newest record.
func FuzzSegmentScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, body1, body2 []byte, base, gap, durable uint64, mode uint8) {
		dir := t.TempDir()
		bounded(t, scanBudget(len(body1)+len(body2)), func() (string, error) {
			return checkScan(dir, body1, body2, base, gap, durable, mode)
		})
	})
}

// FuzzIndexOpen: hashindex.Open of any file either refuses it (ErrInvalid)
// or returns an index whose Validate, Lookup and All end with a result or a
// *CorruptionError; a validated index finds every entry All yields and
// stays valid across Puts.
func FuzzIndexOpen(f *testing.F) {
	f.Fuzz(func(t *testing.T, img []byte, probe uint64, mode uint8) {
		dir := t.TempDir()
		bounded(t, indexBudget(len(img)), func() (string, error) {
			return checkIndex(dir, img, probe, mode)
		})
	})
}

// FuzzDirectoryOpen: engine.Open of a directory built from the input either
// fails with a corruption error or opens a store whose ReadAll and
// ReadStream reads end with events or a corruption error, return only
// records that verify, and agree with each other after a rebuild.
func FuzzDirectoryOpen(f *testing.F) {
	f.Fuzz(func(t *testing.T, archive []byte, opts uint8) {
		dir := t.TempDir()
		total := len(archive)
		for _, df := range decodeArchive(archive) {
			total += len(df.data)
		}
		bounded(t, dirBudget(total), func() (string, error) {
			return checkDirectory(dir, archive, opts)
		})
	})
}
