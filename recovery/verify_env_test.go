package recovery

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

// refusingFS fails the nth Open of one file (counting from 1) the way a
// process out of file descriptors sees it.
type refusingFS struct {
	mmapfile.FS
	name  string
	nth   int
	opens int
}

func (r *refusingFS) Open(name string) (mmapfile.File, error) {
	if name == r.name {
		r.opens++
		if r.opens == r.nth {
			return nil, fmt.Errorf("mmapfile: open %s: %w", name, syscall.EMFILE)
		}
	}
	return r.FS.Open(name)
}

// TestVerifyOSRefusalIsAnError: a file Verify cannot open because the
// operating system refused says nothing about the store. It used to be
// reported as damage, its segment's range as lost, with no error.
func TestVerifyOSRefusalIsAnError(t *testing.T) {
	f := standardFixture(t)
	f.close(true)
	for _, c := range []struct {
		what, file string
		nth        int
	}{
		{"segment header check", f.names[1], 1},
		{"segment scan", f.names[1], 2},
		{"index", DefaultIndexName, 1},
	} {
		t.Run(c.what, func(t *testing.T) {
			fsys, names, lock, err := openStoreDir(f.dir, mmapfile.PrepZeroFill)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Close()
			o := VerifyOptions{MaxProblems: defaultMaxProblems, IndexName: DefaultIndexName,
				MaxMappedSegments: 1, MaxMappedBytes: DefaultVerifyMappedBytes}
			rfs := &refusingFS{FS: readOnlyFS{fsys}, name: c.file, nth: c.nth}
			rep, err := verifyStore(rfs, names, o)
			if rfs.opens < c.nth {
				t.Fatalf("%s opened %d times, the test refuses open %d", c.file, rfs.opens, c.nth)
			}
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("Verify with %s refused: err %v, want EMFILE; problems %v", c.file, err, rep.Problems)
			}
			if len(rep.Problems) != 0 {
				t.Fatalf("a refused open reported as damage: %v", rep.Problems)
			}
		})
	}
	// The same store verifies whole when nothing is refused.
	if rep, err := Verify(f.dir, nil); err != nil || !rep.OK() {
		t.Fatalf("Verify: %v, problems %v", err, rep.Problems)
	}
}
