package simfs

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

// TestFaultPage: a faulted page faults in the program's mapping, where
// Guard names the file and offset, while the other pages, simfs, WriteAt,
// ReadAt and Sync still reach it; a crash forgets the fault.
func TestFaultPage(t *testing.T) {
	if !FaultsAttributed() {
		t.Skip("fault addresses are not reported here (qemu-user?)")
	}
	fs := New(Config{Seed: 13, Faultable: true})
	f := mustCreate(t, fs, "a", 3*PageSize)
	copy(f.Bytes(), bytes.Repeat([]byte("x"), 3*PageSize))
	if err := fs.FaultPage("a", PageSize+100); err != nil {
		t.Fatal(err)
	}
	var sink byte
	err := mmapfile.Guard(func() error { sink = f.Bytes()[PageSize+7]; return nil })
	var fe *mmapfile.FaultError
	if !errors.As(err, &fe) || fe.File != "a" || fe.Offset != PageSize+7 {
		t.Fatalf("touching the faulted page: %v, want a FaultError in a at %d", err, PageSize+7)
	}
	if err := mmapfile.Guard(func() error { sink = f.Bytes()[2*PageSize] + f.Bytes()[0]; return nil }); err != nil {
		t.Fatalf("the other pages: %v", err)
	}
	_ = sink
	if err := f.WriteAt([]byte("y"), PageSize+8); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2)
	if _, err := f.ReadAt(got, PageSize+7); err != nil || string(got) != "xy" {
		t.Fatalf("ReadAt of the faulted page: %q, %v", got, err)
	}
	if err := f.Sync(0, 3*PageSize); err != nil {
		t.Fatal(err)
	}
	after := fs.Crash(newRng(1), KeepAll)
	g, err := after.Open("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := mmapfile.Guard(func() error { sink = g.Bytes()[PageSize+8]; return nil }); err != nil || sink != 'y' {
		t.Fatalf("after the crash: %q, %v", sink, err)
	}
	if err := fs.FaultPage("b", 0); err == nil {
		t.Fatal("faulting a missing file succeeded")
	}
	plain := New(Config{Seed: 14})
	mustCreate(t, plain, "a", PageSize)
	if err := plain.FaultPage("a", 0); err == nil {
		t.Fatal("faulting a file not created Faultable succeeded")
	}
}
