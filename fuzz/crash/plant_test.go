//go:build spool_sensitivity

package crash

import (
	"testing"
	"time"

	"github.com/spooldb/spool/internal/plant"
)

// maxSensitivityStates is how many crash states each planted bug may take
// to be caught.
const maxSensitivityStates = 2000

// TestSensitivity plants each known bug in turn (build tag
// spool_sensitivity) and requires the harness to catch it within
// maxSensitivityStates states: random crash states, corruption states and
// compaction crash states, in turn. A harness that misses a planted bug
// proves little when it finds nothing.
//
//	go test -tags spool_sensitivity ./fuzz/crash -run TestSensitivity -v
func TestSensitivity(t *testing.T) {
	base := baseSeed()
	for _, bug := range plant.All {
		t.Run(string(bug), func(t *testing.T) {
			restore := plant.Set(bug)
			defer restore()
			start := time.Now()
			for i := range uint64(maxSensitivityStates) {
				seed := base + i
				var err error
				switch i % 3 {
				case 0:
					_, err = randomState(seed).run()
				case 1:
					err = corruptionState(seed, nil)
				default:
					_, err = compactionState(seed).run()
				}
				if err != nil {
					t.Logf("caught after %d states (%v), seed %d: %.300v", i+1, time.Since(start).Round(time.Millisecond), seed, err)
					return
				}
			}
			t.Errorf("planted bug %q not caught in %d crash states", bug, maxSensitivityStates)
		})
	}
}
