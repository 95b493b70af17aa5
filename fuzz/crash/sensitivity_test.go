package crash

import (
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

// lyingFS is storage whose Sync reports success without making anything
// durable, like a disk that acknowledges flushes it never does.
type lyingFS struct{ mmapfile.FS }

type lyingFile struct{ mmapfile.File }

func (l lyingFS) Create(name string, size int64) (mmapfile.File, error) {
	f, err := l.FS.Create(name, size)
	if err != nil {
		return nil, err
	}
	return lyingFile{f}, nil
}

func (l lyingFS) Open(name string) (mmapfile.File, error) {
	f, err := l.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return lyingFile{f}, nil
}

func (lyingFile) Sync(off, n int64) error { return nil }

// TestChecksCatchLyingSync plants a durability bug (acknowledged appends
// that never reach the device) and requires the crash states to report
// lost events: the harness must be able to fail.
func TestChecksCatchLyingSync(t *testing.T) {
	for i := range uint64(200) {
		st := randomState(1000 + i)
		st.lie = true
		got, err := st.run()
		if err != nil && got.lost > 0 {
			t.Logf("state %d of a lying disk: %d acknowledged events lost, reported", i+1, got.lost)
			return
		}
	}
	t.Fatal("200 crash states over a disk that never syncs found no lost event")
}
