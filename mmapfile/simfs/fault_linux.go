package simfs

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/spooldb/spool/mmapfile"
)

// faultImage backs a file's image with a memfd mapped twice: simfs reads
// and writes one mapping (inode.live), the program the other (Bytes). A
// page of the program's mapping can then be made to fault (FaultPage)
// while simfs itself still reads it, as when a device cannot read a page
// back: the kernel raises SIGBUS in the program, and the page cache and
// the device hold what they held.
type faultImage struct {
	fd         int
	own, shown []byte
	unregister func()
}

// newFaultImage maps a zeroed image of size bytes twice. It is unmapped
// when the inode holding it becomes unreachable (the program's mappings
// of it went with it).
func newFaultImage(ino *inode, size int64) error {
	if os.Getpagesize() != PageSize {
		return fmt.Errorf("simfs: faultable images need %d-byte pages, this machine has %d", PageSize, os.Getpagesize())
	}
	fd, err := unix.MemfdCreate("simfs-"+ino.name, unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("simfs: memfd for %s: %w", ino.name, err)
	}
	img := &faultImage{fd: fd}
	ok := false
	defer func() {
		if !ok {
			img.free()
		}
	}()
	if err := unix.Ftruncate(fd, size); err != nil {
		return fmt.Errorf("simfs: size memfd for %s: %w", ino.name, err)
	}
	for _, m := range []*[]byte{&img.own, &img.shown} {
		if *m, err = unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
			return fmt.Errorf("simfs: map memfd for %s: %w", ino.name, err)
		}
	}
	img.unregister = mmapfile.RegisterRegion(ino.name, img.shown)
	ok = true
	ino.live, ino.shown, ino.fault = img.own, img.shown, img
	runtime.AddCleanup(ino, (*faultImage).free, img)
	return nil
}

// protect makes the page at off of the program's mapping fault on access.
func (img *faultImage) protect(off int64) error {
	lo := off &^ (PageSize - 1)
	hi := min(lo+PageSize, int64(len(img.shown)))
	return unix.Mprotect(img.shown[lo:hi], unix.PROT_NONE)
}

func (img *faultImage) free() {
	if img.unregister != nil {
		img.unregister()
	}
	for _, m := range [][]byte{img.own, img.shown} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	_ = unix.Close(img.fd)
}

// FaultsAttributed reports whether this machine tells the program which
// address faulted, so that Guard can name the file of a page FaultPage
// made fault. Native Linux does; under qemu-user it depends on the target
// (here arm64 does, arm does not), and where it does not, Guard lets such
// a fault through as a plain panic: use FaultPage only when this returns
// true. It is false, too, where pages are not PageSize bytes (arm64
// kernels with 16 KiB or 64 KiB pages): faultable images cannot be made
// there.
var FaultsAttributed = sync.OnceValue(func() bool {
	if os.Getpagesize() != PageSize {
		return false
	}
	m, err := unix.Mmap(-1, 0, PageSize, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return false
	}
	defer unix.Munmap(m)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var p any
	func() {
		defer func() { p = recover() }()
		_ = *(*byte)(unsafe.Pointer(unsafe.SliceData(m)))
	}()
	a, ok := p.(interface{ Addr() uintptr })
	return ok && a.Addr() == uintptr(unsafe.Pointer(unsafe.SliceData(m)))
})
