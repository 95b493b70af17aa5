package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
)

// Index image modes (bits of the mode argument of FuzzIndexOpen).
const (
	idxSeal    = 1 << iota // recompute the header and slot checksums
	idxFitSize             // cut or zero-extend the image to the size its slot count needs
	idxPut                 // after a clean Validate, Put and check again
)

// checkIndex is FuzzIndexOpen's property check. Outcomes: "invalid" (Open
// refused the file), "damaged" (Open accepted it, Validate found damage),
// "ok" (Validate passed).
func checkIndex(dir string, img []byte, probe uint64, mode uint8) (string, error) {
	img = bytes.Clone(img)
	if mode&idxFitSize != 0 && len(img) >= 24 {
		// Only sizes a fuzz input could have spelt out byte by byte: the
		// point is to get past the size check, not to map huge files.
		if slots := le.Uint64(img[idxSlots:]); slots <= maxFileSize/48 {
			want := 4096 + int(slots)*48
			img = append(img[:min(len(img), want)], make([]byte, max(0, want-len(img)))...)
		}
	}
	if mode&idxSeal != 0 {
		sealIndex(img)
	}
	// An empty image is written too: Open must report it, not fail to map.
	if err := os.WriteFile(filepath.Join(dir, "index"), img, 0o644); err != nil {
		return "", err
	}
	fs, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		return "", err
	}
	var out string
	err = mmapfile.Guard(func() error {
		var err error
		out, err = exerciseIndex(fs, img, probe, mode)
		return err
	})
	return out, err
}

func exerciseIndex(fs mmapfile.FS, img []byte, probe uint64, mode uint8) (string, error) {
	ix, err := hashindex.Open(fs, "index")
	if err != nil {
		if !errors.Is(err, hashindex.ErrInvalid) {
			return "", fmt.Errorf("Open failed with %v, not ErrInvalid", err)
		}
		return "invalid", nil
	}
	defer ix.Close()
	slots := ix.Slots()
	if want := uint64(len(img)-hashindex.HeaderSize) / hashindex.SlotSize; slots != want || uint64(ix.Len()) > slots {
		return "", fmt.Errorf("Open accepted %d slots holding %d streams in a file with room for %d", slots, ix.Len(), want)
	}

	type item struct {
		fp hashindex.Fingerprint
		e  hashindex.Entry
	}
	var all []item
	for fp, e := range ix.All() {
		if fp.IsZero() || e.State < hashindex.Live || e.State > hashindex.Tombstoned {
			return "", fmt.Errorf("All yielded an empty or invalid slot: %v %+v", fp, e)
		}
		all = append(all, item{fp, e})
		if uint64(len(all)) > slots {
			return "", fmt.Errorf("All yielded more than the %d slots", slots)
		}
	}

	// Lookups must end (every probe is bounded by the slot count) with a
	// result or a *CorruptionError, whatever the slots hold.
	lookup := func(fp hashindex.Fingerprint, want *hashindex.Entry) (bool, error) {
		calls := uint64(0)
		_, ok, err := ix.Lookup(fp, func(e hashindex.Entry) (bool, error) {
			calls++
			return want != nil && e == *want, nil
		})
		if err != nil {
			var ce *hashindex.CorruptionError
			if !errors.As(err, &ce) || !errors.Is(err, hashindex.ErrCorrupt) {
				return false, fmt.Errorf("Lookup failed with %v, not a *CorruptionError", err)
			}
		}
		if calls > slots {
			return false, fmt.Errorf("Lookup called match %d times in %d slots", calls, slots)
		}
		return ok, nil
	}
	probes := []hashindex.Fingerprint{{Hi: probe, Lo: ^probe}, hashindex.FingerprintString("a"), hashindex.FingerprintOf(img[:min(len(img), 8)])}
	for _, fp := range probes {
		if _, err := lookup(fp, nil); err != nil {
			return "", err
		}
	}

	verr := ix.Validate()
	if verr != nil {
		var ce *hashindex.CorruptionError
		if !errors.As(verr, &ce) || !errors.Is(verr, hashindex.ErrCorrupt) {
			return "", fmt.Errorf("Validate failed with %v, not a *CorruptionError", verr)
		}
		for _, it := range all[:min(len(all), 64)] {
			if _, err := lookup(it.fp, &it.e); err != nil {
				return "", err
			}
		}
		return "damaged", nil
	}

	// A valid index: All saw every stream and Lookup finds each of them.
	if len(all) != ix.Len() {
		return "", fmt.Errorf("Validate passed with count %d but All yielded %d", ix.Len(), len(all))
	}
	for _, it := range all[:min(len(all), 256)] {
		ok, err := lookup(it.fp, &it.e)
		if err != nil || !ok {
			return "", fmt.Errorf("valid index: Lookup of %v %+v: %v, %v", it.fp, it.e, ok, err)
		}
	}
	if mode&idxPut != 0 {
		if err := putAndRevalidate(ix, probe); err != nil {
			return "", err
		}
	}
	return "ok", nil
}

// putAndRevalidate inserts into a valid index (possibly growing it) and
// checks that it stays valid and finds what was put.
func putAndRevalidate(ix *hashindex.Index, probe uint64) error {
	match := func(hashindex.Entry) (bool, error) { return false, nil } // every Put is a new stream
	before := ix.Len()
	for i := range uint64(4) {
		fp := hashindex.Fingerprint{Hi: probe + i, Lo: i + 1}
		want := hashindex.Entry{Tail: probe ^ i, Version: int64(i), Aux: 0xf022, State: hashindex.Live}
		if err := ix.Put(fp, want, match); err != nil {
			return fmt.Errorf("Put into a valid index: %v", err)
		}
		e, ok, err := ix.Lookup(fp, func(e hashindex.Entry) (bool, error) { return e == want, nil })
		if err != nil || !ok {
			return fmt.Errorf("Lookup after Put: %+v, %v, %v", e, ok, err)
		}
	}
	if err := ix.Validate(); err != nil || ix.Len() != before+4 {
		return fmt.Errorf("after 4 Puts into a valid index of %d: Len %d, Validate %v", before, ix.Len(), err)
	}
	return nil
}
