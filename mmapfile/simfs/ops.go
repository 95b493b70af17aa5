package simfs

import (
	"fmt"
	"syscall"
)

// Op names a kind of storage operation, for counting and for FailNth.
type Op int

// The counted operations. Bytes, Size, Name, Advise and Path touch no
// storage and are not counted.
const (
	OpCreate Op = iota
	OpOpen
	OpRename
	OpRemove
	OpList
	OpSyncDir
	OpLock
	OpWriteAt
	OpSync
	OpClose
	numOps
)

var opNames = [numOps]string{"create", "open", "rename", "remove", "list", "syncdir", "lock", "writeat", "sync", "close"}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// errno is what an injected failure of o simulates: a full disk where
// space is allocated, an I/O error elsewhere.
func (o Op) errno() error {
	switch o {
	case OpCreate, OpRename, OpWriteAt:
		return syscall.ENOSPC
	}
	return syscall.EIO
}

// Stats counts what an FS did.
type Stats struct {
	Ops        [numOps]int64 // calls per Op (frozen calls excluded)
	WriteBacks int64         // pages the simulated flusher made durable early
	Injected   int64         // calls failed by FailNth
	Faults     int64         // pages made to fault by FaultPage
}
