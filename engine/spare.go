package engine

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/mmapfile"
)

// Spare segments. Preparing a segment file (reserving its blocks, faulting
// its pages in, syncing) takes a while — a 64 MiB zero-fill is ~200 ms here
// — so a background goroutine prepares the next segment once the active one
// is half full, and a roll only writes a header and renames. A prepared
// spare is renamed to spare-*.ready and kept across restarts, so opening
// and closing a store costs no preparation; a spare-*.tmp is a preparation
// cut short and is removed.

const (
	spareTmp   = ".tmp"
	spareReady = ".ready"
)

// spareResult is a prepared spare, or a nil file when its preparation
// failed (counted in Stats): the roll then creates its segment itself.
type spareResult struct {
	file mmapfile.File
}

var spareCounter atomic.Uint64

// spareName returns a fresh spare file name with the given suffix.
func spareName(suffix string) string {
	return fmt.Sprintf("spare-%d-%d%s", time.Now().UnixNano(), spareCounter.Add(1), suffix)
}

func isSpare(name string) bool {
	return strings.HasPrefix(name, "spare-") && (strings.HasSuffix(name, spareTmp) || strings.HasSuffix(name, spareReady))
}

// adoptSpare, during Open, keeps one prepared spare of the right size and
// removes every other spare file.
func (s *Store) adoptSpare(name string) error {
	if strings.HasSuffix(name, spareReady) && len(s.spareCh) == 0 {
		f, err := s.fs.Open(name)
		if err == nil && f.Size() == s.opts.SegmentSize {
			// Pages faulted from here on must be 4 KiB folios (see mmapfile.Prep).
			f.Advise(0, f.Size(), mmapfile.AdviseRandom)
			s.spareCh <- spareResult{file: f}
			return nil
		}
		if err == nil {
			_ = f.Close()
		}
	}
	return s.fs.Remove(name)
}

// askSpareAtHalfLocked asks for a spare once the active segment seg, whose
// records end at end, is past half full: an empty store then writes no
// spare's worth of zeros at Open, nor a small one ever.
func (s *Store) askSpareAtHalfLocked(seg *mappedSegment, end uint64) {
	if !s.spareAsked && end-seg.base > (seg.limit()-seg.base)/2 {
		s.askSpareLocked()
	}
}

// askSpareLocked requests a spare for the next roll, once.
func (s *Store) askSpareLocked() {
	if s.spareAsked || len(s.spareCh) > 0 {
		return
	}
	s.spareAsked = true
	select {
	case s.needSpare <- struct{}{}:
	default:
	}
}

// prepareSpares prepares a spare whenever one is asked for.
func (s *Store) prepareSpares() {
	defer close(s.spareDone)
	for {
		select {
		case <-s.stop:
			return
		case <-s.needSpare:
		}
		if len(s.spareCh) > 0 {
			// A roll that found no spare ready made its own segment and
			// the next segment asked again before this spare was taken.
			// This goroutine is the only sender, so the check is exact.
			continue
		}
		tmp := spareName(spareTmp)
		f, err := s.fs.Create(tmp, s.opts.SegmentSize)
		if err == nil {
			// No directory sync: a rename lost in a crash only costs a
			// new preparation.
			if err = s.fs.Rename(tmp, spareName(spareReady)); err != nil {
				_ = f.Close()
				_ = s.fs.Remove(tmp)
				f = nil
			}
		}
		if err != nil {
			s.spareFailed(err)
		}
		// spareCh is empty (checked above; only rolls receive from it), so
		// this send does not block.
		s.spareCh <- spareResult{file: f}
	}
}

// spareFailed records a background preparation that failed (Stats).
func (s *Store) spareFailed(err error) {
	s.stats.spareFailures.Add(1)
	s.stats.spareError.Store(&err)
}

// dropSpare unmaps a prepared spare that no roll took; its file stays.
func (s *Store) dropSpare() {
	select {
	case r := <-s.spareCh:
		if r.file != nil {
			_ = r.file.Close()
		}
	default:
	}
}
