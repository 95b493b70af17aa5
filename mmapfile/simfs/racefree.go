package simfs

import "unsafe"

// The simulator reads live images the way the kernel's write-back does:
// while the program may be storing to the same page through its mapping.
// A real kernel's reads are invisible to the race detector; these helpers
// make the simulator's equally so (//go:norace, and no copy builtin, whose
// runtime half reports its reads itself). What they read may be torn by a
// concurrent store, which is what write-back of a page under a store
// produces too.

// snapshot copies min(len(dst), len(src)) bytes of src into dst.
//
//go:norace
func snapshot(dst, src []byte) {
	n := min(len(dst), len(src))
	i := 0
	if n >= 8 && aligned(dst) && aligned(src) {
		d := unsafe.Pointer(unsafe.SliceData(dst))
		s := unsafe.Pointer(unsafe.SliceData(src))
		for ; i+8 <= n; i += 8 {
			*(*uint64)(unsafe.Add(d, i)) = *(*uint64)(unsafe.Add(s, i))
		}
	}
	for ; i < n; i++ {
		dst[i] = src[i]
	}
}

// same reports whether a and b hold the same bytes.
//
//go:norace
func same(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	n := len(a)
	i := 0
	if n >= 8 && aligned(a) && aligned(b) {
		pa := unsafe.Pointer(unsafe.SliceData(a))
		pb := unsafe.Pointer(unsafe.SliceData(b))
		for ; i+8 <= n; i += 8 {
			if *(*uint64)(unsafe.Add(pa, i)) != *(*uint64)(unsafe.Add(pb, i)) {
				return false
			}
		}
	}
	for ; i < n; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clone returns a copy of b read race-free.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	snapshot(c, b)
	return c
}

// aligned reports whether b starts on an 8-byte boundary: word loads are
// only used then, since 32-bit ARM may fault on unaligned ones.
//
//go:norace
func aligned(b []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0
}
