//go:build linux || darwin

package mmapfile

import (
	"runtime/debug"
	"sync"
	"unsafe"
)

// Guard runs fn with debug.SetPanicOnFault(true) on the calling goroutine.
// A memory fault inside a mapping made by this package, or a panic with a
// *FaultError value (which simulated storage uses to inject faults), is
// returned as a *FaultError; any other panic propagates unchanged.
//
// Guard costs two runtime calls and a deferred function: wrap a whole batch
// of work on mapped bytes, not each load. fn must not call code that
// recovers panics it does not own.
func Guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			fe := asFault(r)
			if fe == nil {
				panic(r)
			}
			err = fe
		}
	}()
	return fn()
}

// asFault converts a recovered panic value into a *FaultError when it is a
// fault inside one of our mappings.
func asFault(r any) *FaultError {
	switch v := r.(type) {
	case *FaultError:
		return v
	case interface{ Addr() uintptr }:
		return lookupFault(v.Addr())
	}
	return nil
}

// mapped holds every live mapping, so a fault address can be turned into a
// file name and offset. It is touched on map, unmap and fault only.
var mapped struct {
	sync.Mutex
	files   map[*osFile]struct{}
	regions map[*region]struct{}
}

// region is memory mapped outside this package that stands for a file
// (see RegisterRegion).
type region struct {
	name string
	data []byte
}

// RegisterRegion makes Guard attribute faults inside data, memory mapped by
// another implementation of FS (simulated storage that can make pages
// fault), to the file name. The returned function undoes it; call it
// before unmapping data.
func RegisterRegion(name string, data []byte) (unregister func()) {
	r := &region{name: name, data: data}
	mapped.Lock()
	defer mapped.Unlock()
	if mapped.regions == nil {
		mapped.regions = make(map[*region]struct{})
	}
	mapped.regions[r] = struct{}{}
	return func() {
		mapped.Lock()
		defer mapped.Unlock()
		delete(mapped.regions, r)
	}
}

func register(of *osFile) {
	mapped.Lock()
	defer mapped.Unlock()
	if mapped.files == nil {
		mapped.files = make(map[*osFile]struct{})
	}
	mapped.files[of] = struct{}{}
}

func unregister(of *osFile) {
	mapped.Lock()
	defer mapped.Unlock()
	delete(mapped.files, of)
}

func lookupFault(addr uintptr) *FaultError {
	mapped.Lock()
	defer mapped.Unlock()
	for of := range mapped.files {
		if fe := faultIn(of.data, of.Name(), addr); fe != nil {
			return fe
		}
	}
	for r := range mapped.regions {
		if fe := faultIn(r.data, r.name, addr); fe != nil {
			return fe
		}
	}
	return nil
}

// faultIn returns the FaultError for addr if it lies in data, the mapping
// of file name.
func faultIn(data []byte, name string, addr uintptr) *FaultError {
	if len(data) == 0 {
		return nil
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	if addr >= base && addr < base+uintptr(len(data)) {
		return &FaultError{File: name, Offset: int64(addr - base), Addr: addr}
	}
	return nil
}
