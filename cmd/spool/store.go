package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/segment"
)

// openExisting opens the store in dir for inspection. It refuses a
// directory without segment files, so that a typo never creates a store.
// The engine has no read-only mode: Open may recover (cut a torn tail,
// rebuild the index). The segment size asked for is the newest segment's,
// so that Open keeps a prepared spare segment (it removes spares of
// another size).
func openExisting(dir string) (*engine.Store, error) {
	segs, err := segmentFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("%s: no segment files: not a spool store", dir)
	}
	opts := &engine.Options{Durability: engine.NoSync, SegmentSize: segs[len(segs)-1].size}
	if opts.Validate() != nil {
		opts.SegmentSize = 0 // engine default
	}
	return engine.Open(dir, opts)
}

// fileInfo is one file of a store directory.
type fileInfo struct {
	name    string
	size    int64
	segment bool
	base    uint64
}

func segmentFiles(dir string) ([]fileInfo, error) {
	files, err := storeFiles(dir)
	if err != nil {
		return nil, err
	}
	var segs []fileInfo
	for _, f := range files {
		if f.segment {
			segs = append(segs, f)
		}
	}
	return segs, nil
}

func storeFiles(dir string) ([]fileInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fileInfo
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		f := fileInfo{name: e.Name(), size: info.Size()}
		f.base, f.segment = segment.ParseFileName(e.Name())
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}
