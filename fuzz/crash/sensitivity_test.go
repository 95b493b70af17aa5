package crash

import (
	"testing"

	"github.com/spooldb/spool/engine"
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
// that never reach the device, Syncs and Closes that return nil without
// syncing) and requires the crash states of every durability mode to
// report lost events: the harness must be able to fail, and in
// SyncInterval and NoSync its promises (what a Sync or Close that
// returned nil covers) must be checked.
func TestChecksCatchLyingSync(t *testing.T) {
	caught := map[engine.Durability]int{}
	for i := range uint64(600) {
		st := randomState(1000 + i)
		if caught[st.mode.durability] > 0 {
			continue
		}
		st.lie = true
		got, err := st.run()
		if err != nil && got.lost > 0 {
			t.Logf("state %d (%v) of a lying disk: %d acknowledged events lost, reported", i+1, st.mode, got.lost)
			caught[st.mode.durability] = int(i) + 1
		}
		if len(caught) == 3 {
			return
		}
	}
	t.Fatalf("600 crash states over a disk that never syncs found lost events only in %v", caught)
}
