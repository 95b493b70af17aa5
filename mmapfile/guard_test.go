//go:build linux

package mmapfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/spooldb/spool/mmapfile"
	"golang.org/x/sys/unix"
)

// sink keeps guarded loads from being optimised away.
var sink byte

// faultAddresses probes, without mmapfile, whether this platform reports the
// address of a SIGBUS in a mapping. Native Linux does; qemu-user reports
// address 0, which the runtime turns into a plain nil-dereference panic, so
// no fault can be attributed to a file there.
var faultAddresses = sync.OnceValue(func() bool {
	dir, err := os.MkdirTemp("", "faultprobe")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		return false
	}
	defer f.Close()
	if f.Truncate(page) != nil {
		return false
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(page), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return false
	}
	defer unix.Munmap(m)
	if f.Truncate(0) != nil {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	r := panicked(func() { sink = m[1] })
	a, ok := r.(interface{ Addr() uintptr })
	return ok && a.Addr() == uintptr(unsafe.Pointer(unsafe.SliceData(m)))+1
})

func requireFaultAddresses(t *testing.T) {
	t.Helper()
	if !faultAddresses() {
		t.Skip("this platform (qemu-user?) does not report SIGBUS fault addresses")
	}
}

// panicked runs fn and returns what it panicked with, or nil.
func panicked(fn func()) (p any) {
	defer func() { p = recover() }()
	fn()
	return nil
}

func wantFault(t testing.TB, err error, name string, off int64) {
	t.Helper()
	var fe *mmapfile.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("Guard returned %v (%T), want a *FaultError", err, err)
	}
	if !errors.Is(err, mmapfile.ErrFault) {
		t.Fatalf("errors.Is(%v, ErrFault) is false", err)
	}
	if fe.File != name || fe.Offset != off {
		t.Fatalf("fault in %q at %d, want %q at %d", fe.File, fe.Offset, name, off)
	}
	if fe.Addr == 0 {
		t.Fatal("fault without an address")
	}
	if msg := fe.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, strconv.FormatInt(off, 10)) {
		t.Fatalf("message %q lacks the file or the offset", msg)
	}
}

func TestGuardTruncatedFile(t *testing.T) {
	requireFaultAddresses(t)
	fsys, dir := openDir(t)
	const pages = 6
	f := create(t, fsys, "seg", pages*page)
	b := f.Bytes()
	for i := range b {
		b[i] = byte(i) | 1
	}
	if err := os.Truncate(filepath.Join(dir, "seg"), 0); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1, page, 3*page + 5, pages*page - 1} {
		err := mmapfile.Guard(func() error {
			sink = b[off]
			t.Errorf("read at %d of a truncated file did not fault", off)
			return nil
		})
		wantFault(t, err, "seg", off)
	}
	err := mmapfile.Guard(func() error {
		b[2*page+1] = 1
		return nil
	})
	wantFault(t, err, "seg", 2*page+1)

	// Faults are not sticky: the goroutine goes on, and a later Guard
	// whose function does not fault returns its result.
	want := errors.New("fn's own error")
	if err := mmapfile.Guard(func() error { return want }); err != want {
		t.Fatalf("Guard returned %v, want fn's error", err)
	}
	if err := mmapfile.Guard(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close of a truncated mapping: %v", err)
	}
}

func TestGuardShrunkFile(t *testing.T) {
	requireFaultAddresses(t)
	fsys, dir := openDir(t)
	f := create(t, fsys, "tmp", 4*page)
	if err := fsys.Rename("tmp", "index"); err != nil {
		t.Fatal(err)
	}
	b := f.Bytes()
	b[10], b[page] = 7, 8
	// Shrink to a page and a bit: the rest of the last page reads zero,
	// whole pages past the end fault.
	if err := os.Truncate(filepath.Join(dir, "index"), page+100); err != nil {
		t.Fatal(err)
	}
	err := mmapfile.Guard(func() error {
		if b[10] != 7 || b[page] != 8 || b[page+200] != 0 {
			t.Error("bytes before the new end changed")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading inside the file faulted: %v", err)
	}
	for _, off := range []int64{2 * page, 2*page + 1, 4*page - 1} {
		err := mmapfile.Guard(func() error { sink = b[off]; return nil })
		wantFault(t, err, "index", off) // the name after Rename
		err = mmapfile.Guard(func() error { b[off] = 1; return nil })
		wantFault(t, err, "index", off)
	}
}

// Faults taken by several goroutines at once each come back to their own Guard.
func TestGuardConcurrent(t *testing.T) {
	requireFaultAddresses(t)
	fsys, dir := openDir(t)
	f := create(t, fsys, "seg", 8*page)
	b := f.Bytes()
	if err := os.Truncate(filepath.Join(dir, "seg"), 0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = mmapfile.Guard(func() error {
				for range 100 {
					runtime.Gosched()
				}
				b[int64(i)*page+int64(i)] = 1
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		wantFault(t, err, "seg", int64(i)*page+int64(i))
	}
}

func TestGuardPanicOnFaultRestored(t *testing.T) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(false))
	for _, before := range []bool{false, true} {
		debug.SetPanicOnFault(before)
		err := mmapfile.Guard(func() error {
			if on := debug.SetPanicOnFault(true); !on {
				t.Error("SetPanicOnFault is off inside Guard")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if old := debug.SetPanicOnFault(before); old != before {
			t.Fatalf("after Guard SetPanicOnFault is %v, was %v before", old, before)
		}
	}

	// Also after a foreign panic and after a fault.
	debug.SetPanicOnFault(false)
	panicked(func() { mmapfile.Guard(func() error { panic("x") }) })
	if old := debug.SetPanicOnFault(false); old {
		t.Fatal("SetPanicOnFault left on after a panic")
	}
	requireFaultAddresses(t)
	fsys, dir := openDir(t)
	f := create(t, fsys, "seg", page)
	b := f.Bytes()
	if err := os.Truncate(filepath.Join(dir, "seg"), 0); err != nil {
		t.Fatal(err)
	}
	debug.SetPanicOnFault(false)
	if err := mmapfile.Guard(func() error { sink = b[0]; return nil }); err == nil {
		t.Fatal("no fault")
	}
	if old := debug.SetPanicOnFault(false); old {
		t.Fatal("SetPanicOnFault left on after a fault")
	}
}

func TestGuardOtherPanicsPropagate(t *testing.T) {
	p := panicked(func() {
		mmapfile.Guard(func() error { panic("x") })
		t.Error("Guard returned after a panic")
	})
	if p != "x" {
		t.Fatalf("recovered %v, want the panic value x", p)
	}

	sentinel := errors.New("not a fault")
	p = panicked(func() { mmapfile.Guard(func() error { panic(sentinel) }) })
	if p != sentinel {
		t.Fatalf("recovered %v, want the error value panicked with", p)
	}

	// A nil dereference is a fault, but not in a mapping of ours.
	p = panicked(func() {
		mmapfile.Guard(func() error {
			var q *[64]byte
			sink = q[8]
			return nil
		})
	})
	if _, ok := p.(runtime.Error); !ok {
		t.Fatalf("nil dereference: recovered %v (%T), want the runtime error", p, p)
	}
}

// A fault in a mapping this package did not make is not turned into an error.
func TestGuardForeignMappingFaultPropagates(t *testing.T) {
	requireFaultAddresses(t)
	p := filepath.Join(t.TempDir(), "foreign")
	fd, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if err := fd.Truncate(2 * page); err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(fd.Fd()), 0, int(2*page), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := fd.Truncate(0); err != nil {
		t.Fatal(err)
	}
	r := panicked(func() {
		mmapfile.Guard(func() error { sink = m[page]; return nil })
	})
	addr, ok := r.(interface{ Addr() uintptr })
	if !ok {
		t.Fatalf("recovered %v (%T), want the runtime's fault error", r, r)
	}
	if _, ok := r.(*mmapfile.FaultError); ok {
		t.Fatal("a foreign mapping's fault became a *FaultError")
	}
	if want := uintptr(unsafe.Pointer(unsafe.SliceData(m))) + uintptr(page); addr.Addr() != want {
		t.Fatalf("fault address %#x, want %#x", addr.Addr(), want)
	}
}

func TestGuardFaultErrorPanic(t *testing.T) {
	fe := &mmapfile.FaultError{File: "sim", Offset: 42, Addr: 1}
	err := mmapfile.Guard(func() error { panic(fe) })
	if err != error(fe) {
		t.Fatalf("Guard returned %v, want the *FaultError panicked with", err)
	}
	if !errors.Is(err, mmapfile.ErrFault) {
		t.Fatal("not ErrFault")
	}
	// A nil *FaultError is not a fault.
	p := panicked(func() { mmapfile.Guard(func() error { panic((*mmapfile.FaultError)(nil)) }) })
	if p == nil {
		t.Fatal("a nil *FaultError panic was swallowed")
	}
}
