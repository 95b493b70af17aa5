package simfs

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
)

// Resolution chooses how Crash settles what was not durable.
type Resolution int

const (
	// Random settles each dirty page independently: old, new, or torn
	// (a random subset of its 512-byte sectors new, or a byte prefix new),
	// with proportions drawn per crash; and keeps or reverts each
	// directory change since the last SyncDir.
	Random Resolution = iota
	// DropAll keeps exactly what was synced: a power cut with nothing
	// written back early.
	DropAll
	// KeepAll keeps every store and directory change: a process crash
	// (the page cache survives kill -9).
	KeepAll
)

func (r Resolution) String() string {
	switch r {
	case Random:
		return "random"
	case DropAll:
		return "drop-all"
	case KeepAll:
		return "keep-all"
	}
	return fmt.Sprintf("Resolution(%d)", int(r))
}

// CrashReport tells how Crash settled the state it was given.
type CrashReport struct {
	Resolution                    Resolution
	DirtyPages                    int // pages not durable at the crash
	NewPages, OldPages, TornPages int // how they were settled
	DirOps, DirOpsKept            int // directory changes since the last SyncDir, and those kept
	Files                         int // files in the crashed directory
	DurableLost                   int // pages lost to a failed Sync (marked clean, not on the device)
}

// resolveMix is the share of dirty pages taken new and torn; the rest
// stay old.
type resolveMix struct{ keep, tear float64 }

type choice int

const (
	choiceOld choice = iota
	choiceNew
	choiceSectors // a random subset of sectors new
	choicePrefix  // a byte prefix new: a write cut off mid-sector
)

func pageChoice(rng *rand.Rand, m resolveMix) choice {
	x := rng.Float64()
	switch {
	case x < m.tear:
		if rng.IntN(2) == 0 {
			return choiceSectors
		}
		return choicePrefix
	case x < m.tear+(1-m.tear)*m.keep:
		return choiceNew
	}
	return choiceOld
}

// resolvePage settles one page: old is the device's content, updated in
// place; now is the page cache's.
func resolvePage(rng *rand.Rand, old, now []byte, c choice) {
	switch c {
	case choiceNew:
		copy(old, now)
	case choiceSectors:
		for lo := 0; lo < len(old); lo += SectorSize {
			if rng.IntN(2) == 0 {
				hi := min(lo+SectorSize, len(old))
				copy(old[lo:hi], now[lo:hi])
			}
		}
	case choicePrefix:
		if len(old) > 1 {
			copy(old[:1+rng.IntN(len(old)-1)], now)
		}
	}
}

// Crash cuts the power (as Freeze) and returns the FS found when it comes
// back: every file of the durable directory, with the directory changes
// and dirty pages that were not synced settled by r, using rng. The new FS
// has the same Config except its seed, drawn from rng; nothing in it is
// dirty, and it is unlocked. Crash may be called while other goroutines
// still use the old FS: they get ErrCrashed from then on, and their
// stores through Bytes are discarded.
func (fs *FS) Crash(rng *rand.Rand, r Resolution) *FS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.freezeLocked()
	rep := CrashReport{Resolution: r, DirOps: len(fs.pending)}

	var mix resolveMix
	switch r {
	case Random:
		mix = resolveMix{
			keep: []float64{0.1, 0.5, 0.9}[rng.IntN(3)],
			tear: []float64{0, 0.25, 0.5}[rng.IntN(3)],
		}
	case KeepAll:
		mix = resolveMix{keep: 1}
	}

	dir := fs.settleDir(rng, r, &rep)
	names := make([]string, 0, len(dir))
	for name := range dir {
		names = append(names, name)
	}
	slices.Sort(names) // map order would make the draws unrepeatable

	cfg := fs.cfg
	cfg.Seed = rng.Uint64()
	out := New(cfg)
	settled := make(map[*inode]*inode)
	for _, name := range names {
		ino := dir[name]
		n, ok := settled[ino]
		if !ok {
			n = &inode{name: name}
			n.durable, n.before = settle(rng, ino, mix, &rep)
			n.live = clone(n.durable)
			settled[ino] = n
			out.inodes = append(out.inodes, n)
		}
		out.live[name] = n
		out.durable[name] = n
	}
	rep.Files = len(names)
	out.origin = rep
	return out
}

// settle returns the device image of ino after the crash, and what each
// page written held before its last write (see inode.before).
func settle(rng *rand.Rand, ino *inode, mix resolveMix, rep *CrashReport) ([]byte, map[int][]byte) {
	img := clone(ino.durable)
	before := maps.Clone(ino.before)
	for p := range ino.pages() {
		lo, hi := ino.span(p)
		if c, ok := ino.cleanAs[p]; ok && !same(c, img[lo:hi]) {
			rep.DurableLost++
		}
		if !ino.dirty(ino.frozen, p) {
			continue
		}
		rep.DirtyPages++
		c := pageChoice(rng, mix)
		switch c {
		case choiceOld:
			rep.OldPages++
		case choiceNew:
			rep.NewPages++
		default:
			rep.TornPages++
		}
		old := clone(img[lo:hi])
		resolvePage(rng, img[lo:hi], ino.frozen[lo:hi], c)
		if !same(old, img[lo:hi]) {
			if before == nil {
				before = make(map[int][]byte)
			}
			before[p] = old
		}
	}
	return img, before
}

// settleDir returns the durable directory with the pending changes r
// keeps applied. A change whose precondition does not hold there (a
// rename of a file whose creation was reverted) is dropped: it could not
// have reached the device either.
func (fs *FS) settleDir(rng *rand.Rand, r Resolution, rep *CrashReport) map[string]*inode {
	dir := make(map[string]*inode, len(fs.durable)+len(fs.pending))
	for name, ino := range fs.durable {
		dir[name] = ino
	}
	cut := len(fs.pending) // with DirPrefix, changes from cut on are reverted
	if r == Random && fs.cfg.DirPrefix {
		cut = rng.IntN(len(fs.pending) + 1)
	}
	for i, op := range fs.pending {
		var keep bool
		switch {
		case r == DropAll:
		case r == KeepAll:
			keep = true
		case fs.cfg.DirPrefix:
			keep = i < cut
		default:
			keep = rng.IntN(2) == 0
		}
		if !keep {
			continue
		}
		switch op.kind {
		case OpCreate:
			if _, taken := dir[op.name]; taken {
				continue
			}
			dir[op.name] = op.ino
		case OpRename:
			if dir[op.name] != op.ino {
				continue
			}
			delete(dir, op.name)
			dir[op.newName] = op.ino
		case OpRemove:
			if dir[op.name] != op.ino {
				continue
			}
			delete(dir, op.name)
		}
		rep.DirOpsKept++
	}
	return dir
}

// Origin tells how this FS came out of a crash (zero for one from New).
func (fs *FS) Origin() CrashReport {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.origin
}
