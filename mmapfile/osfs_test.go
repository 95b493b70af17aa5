//go:build linux

package mmapfile_test

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	"github.com/spooldb/spool/mmapfile"
	"golang.org/x/sys/unix"
)

var page = int64(os.Getpagesize())

func openDir(t testing.TB) (mmapfile.FS, string) {
	t.Helper()
	return openDirPrep(t, mmapfile.PrepFallocate)
}

func openDirPrep(t testing.TB, prep mmapfile.Prep) (mmapfile.FS, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	fsys, err := mmapfile.OpenDir(dir, prep)
	if err != nil {
		t.Fatal(err)
	}
	if fsys.Path() != dir {
		t.Fatalf("Path() = %q, want %q", fsys.Path(), dir)
	}
	return fsys, dir
}

func create(t testing.TB, fsys mmapfile.FS, name string, size int64) mmapfile.File {
	t.Helper()
	f, err := fsys.Create(name, size)
	if err != nil {
		t.Fatalf("Create(%q, %d): %v", name, size, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func allZero(b []byte) bool { return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) }

func TestCreate(t *testing.T) {
	for _, prep := range []mmapfile.Prep{mmapfile.PrepZeroFill, mmapfile.PrepFallocate} {
		t.Run(prep.String(), func(t *testing.T) { testCreate(t, prep) })
	}
}

func testCreate(t *testing.T, prep mmapfile.Prep) {
	fsys, dir := openDirPrep(t, prep)
	for i, size := range []int64{1, 100, page - 1, page, page + 1, 1<<20 + 3} {
		name := "f" + string(rune('a'+i))
		f := create(t, fsys, name, size)
		if f.Name() != name || f.Size() != size || int64(len(f.Bytes())) != size {
			t.Fatalf("%s: Name %q Size %d len(Bytes) %d, want %d", name, f.Name(), f.Size(), len(f.Bytes()), size)
		}
		// Prepared: every page is in the page cache before the first
		// store (checked before allZero reads them all). It bites for
		// fallocate: a zero-filled file is in the cache from its writes.
		if n, want := residentPages(t, f.Bytes()), (size+page-1)/page; n != want {
			t.Fatalf("%s: %d of %d pages in the page cache after Create", name, n, want)
		}
		if !allZero(f.Bytes()) {
			t.Fatalf("%s: fresh mapping is not all zero", name)
		}
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != size {
			t.Fatalf("%s: file is %d bytes, want %d", name, st.Size(), size)
		}
		// Not sparse: every byte has its block.
		if blocks := st.Sys().(*syscall.Stat_t).Blocks; blocks*512 < size {
			t.Fatalf("%s: %d bytes but only %d allocated: sparse", name, size, blocks*512)
		}
		// Stores through the mapping are writes to the file.
		f.Bytes()[size-1] = 0x5a
		if err := f.Sync(0, size); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != size || data[size-1] != 0x5a || !allZero(data[:size-1]) {
			t.Fatalf("%s: file content after Close is wrong", name)
		}
	}
}

// residentPages counts the pages of the mapping b that are in the page
// cache (mincore).
func residentPages(t *testing.T, b []byte) int64 {
	t.Helper()
	vec := make([]byte, (int64(len(b))+page-1)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	var n int64
	for _, v := range vec {
		n += int64(v & 1)
	}
	return n
}

func TestOpenDirUnknownPrep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if _, err := mmapfile.OpenDir(dir, mmapfile.Prep(7)); err == nil {
		t.Fatal("OpenDir accepted an unknown preparation")
	}
	if _, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("OpenDir did not create the directory: %v", err)
	}
}

func TestCreateExistingFails(t *testing.T) {
	fsys, dir := openDir(t)
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := fsys.Create("keep", page); err == nil {
		f.Close()
		t.Fatal("Create over an existing file succeeded")
	} else if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: %v, want ErrExist", err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "keep")); err != nil || string(data) != "precious" {
		t.Fatalf("failed Create damaged the existing file: %q, %v", data, err)
	}
	f := create(t, fsys, "mine", page)
	f.Bytes()[0] = 1
	if _, err := fsys.Create("mine", 2*page); err == nil {
		t.Fatal("second Create of the same name succeeded")
	}
	if st, err := os.Stat(filepath.Join(dir, "mine")); err != nil || st.Size() != page || f.Bytes()[0] != 1 {
		t.Fatalf("failed second Create changed the first file: %v", err)
	}
}

func TestCreateInvalidSize(t *testing.T) {
	fsys, _ := openDir(t)
	for _, size := range []int64{0, -1, -page, math.MinInt64, math.MaxInt64} {
		f, err := fsys.Create("bad", size)
		if !errors.Is(err, mmapfile.ErrInvalidSize) {
			if f != nil {
				f.Close()
			}
			t.Fatalf("Create(size %d): %v, want ErrInvalidSize", size, err)
		}
	}
	if names, _ := fsys.List(); len(names) != 0 {
		t.Fatalf("invalid Create left %v behind", names)
	}
}

// A Create whose space cannot be reserved leaves no half-made file.
func TestCreateReserveFailureLeavesNothing(t *testing.T) {
	fsys, dir := openDirPrep(t, mmapfile.PrepFallocate) // never zero-fill a petabyte
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	switch uint32(st.Type) { // int32 on some platforms, int64 on others
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC, unix.TMPFS_MAGIC:
	default:
		t.Skipf("file system %#x may lack fallocate; a zero-filled petabyte would take forever", st.Type)
	}
	f, err := fsys.Create("huge", 1<<50)
	if err == nil {
		f.Close()
		t.Skip("the file system reserved a petabyte")
	}
	if names, _ := fsys.List(); slices.Contains(names, "huge") {
		t.Fatalf("failed Create left its file: %v (%v)", names, err)
	}
}

func TestOpen(t *testing.T) {
	fsys, dir := openDir(t)
	rng := rand.New(rand.NewPCG(1, 2))
	content := make([]byte, 3*page+17)
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	p := filepath.Join(dir, "data")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open("data")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != "data" || f.Size() != int64(len(content)) || !bytes.Equal(f.Bytes(), content) {
		t.Fatal("Open does not map the file's content")
	}
	// A second mapping of the same file shares the pages.
	g, err := fsys.Open("data")
	if err != nil {
		t.Fatal(err)
	}
	f.Bytes()[2*page+3] ^= 0xff
	if g.Bytes()[2*page+3] != content[2*page+3]^0xff {
		t.Fatal("two mappings of one file do not share their pages")
	}
	copy(f.Bytes()[page:], "written through the mapping")
	if err := f.Sync(page, 27); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(content)
	want[2*page+3] ^= 0xff
	copy(want[page:], "written through the mapping")
	if !bytes.Equal(got, want) {
		t.Fatal("the file does not hold what was written through the mapping")
	}

	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := fsys.Open("empty"); !errors.Is(err, mmapfile.ErrEmptyFile) {
		if f != nil {
			f.Close()
		}
		t.Fatalf("Open of an empty file: %v, want ErrEmptyFile", err)
	}
	if _, err := fsys.Open("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v, want ErrNotExist", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if f, err := fsys.Open("sub"); err == nil {
		f.Close()
		t.Fatal("Open of a directory succeeded")
	}
}

func TestRenameListRemove(t *testing.T) {
	fsys, dir := openDir(t)
	f := create(t, fsys, "0000000000001000.seg.tmp", page)
	copy(f.Bytes(), "header")
	if err := f.Sync(0, 6); err != nil {
		t.Fatal(err)
	}
	g, err := fsys.Open("0000000000001000.seg.tmp")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := fsys.Rename("0000000000001000.seg.tmp", "0000000000001000.seg"); err != nil {
		t.Fatal(err)
	}
	if err := fsys.SyncDir(); err != nil {
		t.Fatal(err)
	}
	if f.Name() != "0000000000001000.seg" || g.Name() != "0000000000001000.seg" {
		t.Fatalf("after Rename: names %q, %q", f.Name(), g.Name())
	}
	if _, err := os.Stat(filepath.Join(dir, "0000000000001000.seg.tmp")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old name still exists: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "0000000000001000.seg")); string(data[:6]) != "header" {
		t.Fatal("renamed file lost its content")
	}
	if err := fsys.Rename("nothing", "x"); err == nil {
		t.Fatal("Rename of a missing file succeeded")
	}
	if f.Name() != "0000000000001000.seg" {
		t.Fatal("failed Rename changed a name")
	}

	names := []string{"0000000000000000.seg", "00000000000a0000.seg", "index", "LOCK-not", "0000000000000800.seg", "b", "a"}
	for _, n := range names {
		create(t, fsys, n, 1)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(names), "0000000000001000.seg")
	slices.Sort(want)
	got, err := fsys.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}

	// Remove: the name goes, an open File stays usable.
	if err := fsys.Remove("0000000000001000.seg"); err != nil {
		t.Fatal(err)
	}
	if got, _ := fsys.List(); slices.Contains(got, "0000000000001000.seg") {
		t.Fatal("removed name still listed")
	}
	copy(f.Bytes()[100:], "still mapped")
	if err := f.Sync(0, f.Size()); err != nil {
		t.Fatalf("Sync of a removed file: %v", err)
	}
	if string(g.Bytes()[100:112]) != "still mapped" {
		t.Fatal("removed file's mappings diverged")
	}
	if err := fsys.Remove("0000000000001000.seg"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Remove: %v, want ErrNotExist", err)
	}
}

// Name is the name a File was created or opened with, or got from its last
// Rename: renaming another file over it, or reusing its name after Remove,
// does not rename it.
func TestNameOfReplacedFile(t *testing.T) {
	fsys, _ := openDir(t)
	a := create(t, fsys, "a", page)
	b := create(t, fsys, "b", page)
	if err := fsys.Rename("a", "b"); err != nil { // replaces b; the old b stays open
		t.Fatal(err)
	}
	if a.Name() != "b" || b.Name() != "b" {
		t.Fatalf("names %q, %q", a.Name(), b.Name())
	}
	if err := fsys.Rename("b", "c"); err != nil {
		t.Fatal(err)
	}
	if a.Name() != "c" {
		t.Fatalf("renamed file is named %q, want c", a.Name())
	}
	if b.Name() != "b" {
		t.Fatalf("the replaced file was renamed along to %q; it was never renamed", b.Name())
	}

	x := create(t, fsys, "x", page)
	if err := fsys.Remove("x"); err != nil {
		t.Fatal(err)
	}
	y := create(t, fsys, "x", page)
	if err := fsys.Rename("x", "z"); err != nil {
		t.Fatal(err)
	}
	if y.Name() != "z" || x.Name() != "x" {
		t.Fatalf("after Remove, Create and Rename: removed file %q (want x), new file %q (want z)", x.Name(), y.Name())
	}
	// The same when the file renamed over an open one is not open itself.
	o := create(t, fsys, "old", page)
	n := create(t, fsys, "new", page)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename("new", "old"); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename("old", "older"); err != nil {
		t.Fatal(err)
	}
	if o.Name() != "old" {
		t.Fatalf("replaced file renamed along with its replacement to %q, want old", o.Name())
	}
	// Closing the stale handles does not disturb the live ones.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename("z", "w"); err != nil {
		t.Fatal(err)
	}
	if y.Name() != "w" {
		t.Fatalf("live file is %q after closing a stale handle, want w", y.Name())
	}
}

func TestPathNamesRejected(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "store")
	fsys, err := mmapfile.OpenDir(dir, mmapfile.PrepFallocate)
	if err != nil {
		t.Fatal(err)
	}
	create(t, fsys, "ok", page)
	for _, bad := range []string{"", ".", "..", "a/b", "../escape", "/tmp/abs", "sub/", "./a", "../store/ok"} {
		if f, err := fsys.Create(bad, page); err == nil {
			f.Close()
			t.Errorf("Create(%q) succeeded", bad)
		}
		if f, err := fsys.Open(bad); err == nil {
			f.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
		if err := fsys.Rename("ok", bad); err == nil {
			t.Errorf("Rename(ok, %q) succeeded", bad)
		}
		if err := fsys.Rename(bad, "ok2"); err == nil {
			t.Errorf("Rename(%q, ok2) succeeded", bad)
		}
		if err := fsys.Remove(bad); err == nil {
			t.Errorf("Remove(%q) succeeded", bad)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Fatalf("something was created outside the directory: %v", entries)
	}
	if names, _ := fsys.List(); !slices.Equal(names, []string{"ok"}) {
		t.Fatalf("List = %v after rejected names", names)
	}
}

func TestSyncRange(t *testing.T) {
	fsys, _ := openDir(t)
	size := 3*page + 100
	f := create(t, fsys, "f", size)
	for _, r := range [][2]int64{{0, 0}, {0, size}, {size, 0}, {page - 1, 2}, {size - 1, 1}, {2*page + 5, 10}} {
		if err := f.Sync(r[0], r[1]); err != nil {
			t.Errorf("Sync(%d, %d): %v", r[0], r[1], err)
		}
	}
	for _, r := range [][2]int64{{-1, 1}, {-1, 0}, {0, -1}, {size, 1}, {size - 1, 2}, {0, size + 1}, {size + 1, 0},
		{1, math.MaxInt64}, {math.MaxInt64, 1}, {math.MaxInt64, math.MaxInt64}, {math.MinInt64, math.MaxInt64}} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Sync(%d, %d) panicked: %v", r[0], r[1], p)
				}
			}()
			if err := f.Sync(r[0], r[1]); !errors.Is(err, mmapfile.ErrInvalidRange) {
				t.Errorf("Sync(%d, %d): %v, want ErrInvalidRange", r[0], r[1], err)
			}
		}()
	}
}

// TestWriteAt checks that a pwrite is visible through the mapping at once,
// reaches the file, and that bad ranges are refused.
func TestWriteAt(t *testing.T) {
	fsys, dir := openDir(t)
	size := 3*page + 100
	f := create(t, fsys, "f", size)
	f.Bytes()[0] = 1                                // the page is mapped (and faulted) before the write
	p := bytes.Repeat([]byte("spool"), int(page)/5) // crosses a page boundary
	off := page - 7
	if err := f.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Bytes()[off:off+int64(len(p))], p) {
		t.Fatal("mapping does not show the written bytes")
	}
	if err := f.WriteAt([]byte{9}, size-1); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(0, size); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if raw[0] != 1 || !bytes.Equal(raw[off:off+int64(len(p))], p) || raw[size-1] != 9 {
		t.Fatal("file does not hold the written bytes")
	}
	for _, r := range [][2]int64{{-1, 1}, {size, 1}, {size - 1, 2}, {0, size + 1}, {math.MaxInt64, 1}, {math.MinInt64, 1}} {
		if err := f.WriteAt(make([]byte, r[1]), r[0]); !errors.Is(err, mmapfile.ErrInvalidRange) {
			t.Errorf("WriteAt(%d bytes at %d): %v, want ErrInvalidRange", r[1], r[0], err)
		}
	}
	if raw[size-2] != 0 {
		t.Fatal("a refused write changed the file")
	}
}

// TestWriteAtTruncatedFile: a file truncated from outside is not written.
// A pwrite used to extend it again, sparse, so that the bytes the cut took
// read as zeros and nothing said so (a store to the mapping faults there).
func TestWriteAtTruncatedFile(t *testing.T) {
	fsys, dir := openDir(t)
	f := create(t, fsys, "f", 2*page)
	if err := os.Truncate(filepath.Join(dir, "f"), page); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteAt([]byte("x"), 10); !errors.Is(err, mmapfile.ErrTruncated) {
		t.Fatalf("WriteAt to a truncated file: %v, want ErrTruncated", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "f")); err != nil || fi.Size() != page {
		t.Fatalf("the refused write changed the file's size: %v", err)
	}
}

func TestAdviseNeverFails(t *testing.T) {
	fsys, _ := openDir(t)
	size := 2*page + 1
	f := create(t, fsys, "f", size)
	for _, r := range [][2]int64{{0, size}, {1, 1}, {-1, 5}, {0, -1}, {size, 1}, {0, size + 1},
		{1, math.MaxInt64}, {math.MaxInt64, 1}, {math.MaxInt64, math.MaxInt64}} {
		for _, a := range []mmapfile.Advice{mmapfile.AdviseNormal, mmapfile.AdviseRandom, mmapfile.AdviseSequential, mmapfile.AdviseWillNeed, mmapfile.AdviseWillWrite, 99} {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("Advise(%d, %d, %d) panicked: %v", r[0], r[1], a, p)
					}
				}()
				f.Advise(r[0], r[1], a)
			}()
		}
	}
	f.Bytes()[size-1] = 1 // the mapping still works
}

// TestAdviseWillWriteKeepsBytes: faulting pages in for writing changes
// nothing in them, whether they hold synced data or zeros.
func TestAdviseWillWriteKeepsBytes(t *testing.T) {
	for _, prep := range []mmapfile.Prep{mmapfile.PrepZeroFill, mmapfile.PrepFallocate} {
		t.Run(prep.String(), func(t *testing.T) {
			fsys, dir := openDirPrep(t, prep)
			size := 4*page + 100
			f := create(t, fsys, "f", size)
			want := make([]byte, size)
			for i := range 2*page + 7 {
				want[i] = byte(i%251 + 1)
			}
			copy(f.Bytes(), want)
			if err := f.Sync(0, size); err != nil {
				t.Fatal(err)
			}
			f.Advise(page+3, size-page-3, mmapfile.AdviseWillWrite)
			if !bytes.Equal(f.Bytes(), want) {
				t.Fatal("the mapping changed under AdviseWillWrite")
			}
			f.Bytes()[size-1], want[size-1] = 0x5a, 0x5a
			if err := f.Sync(0, size); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "f"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("the file changed under AdviseWillWrite")
			}
		})
	}
}

func TestClosed(t *testing.T) {
	fsys, _ := openDir(t)
	f, err := fsys.Create("f", page)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(0, 1); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("Sync after Close: %v, want ErrClosed", err)
	}
	if err := f.Sync(0, 0); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("empty Sync after Close: %v, want ErrClosed", err)
	}
	if err := f.WriteAt([]byte{1}, 0); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("WriteAt after Close: %v, want ErrClosed", err)
	}
	if err := f.Close(); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	f.Advise(0, 1, mmapfile.AdviseRandom) // a no-op, not a crash
	// The name is free for reuse through Open.
	g, err := fsys.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLock(t *testing.T) {
	fs1, dir := openDir(t)
	l1, err := fs1.Lock()
	if err != nil {
		t.Fatal(err)
	}
	fs2, err := mmapfile.OpenDir(dir, mmapfile.PrepFallocate)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := fs2.Lock(); !errors.Is(err, mmapfile.ErrLocked) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	if l, err := fs1.Lock(); !errors.Is(err, mmapfile.ErrLocked) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("second Lock through the same FS: %v, want ErrLocked", err)
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := fs2.Lock()
	if err != nil {
		t.Fatalf("Lock after the holder closed: %v", err)
	}
	defer l2.Close()
	if l, err := fs1.Lock(); !errors.Is(err, mmapfile.ErrLocked) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Lock against the new holder: %v, want ErrLocked", err)
	}
}

func TestSyncDir(t *testing.T) {
	fsys, dir := openDir(t)
	if err := fsys.SyncDir(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := fsys.SyncDir(); err == nil {
		t.Fatal("SyncDir of a removed directory succeeded")
	}
}
