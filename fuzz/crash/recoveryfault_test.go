package crash

import (
	"errors"
	"math/rand/v2"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile/simfs"
)

// drawRecoveryFault draws, for one state in six, a failure of one of the
// first few calls of an operation during the Open that recovers from the
// crash: recovery lists, locks, opens, removes spares and empty segments,
// zeroes and syncs the torn tail, rebuilds and renames the index.
func drawRecoveryFault(r *rand.Rand) fault {
	if r.IntN(6) != 0 {
		return fault{}
	}
	return fault{injectable[r.IntN(len(injectable))].op, 1 + r.Int64N(3)}
}

// openAfterCrash opens the crashed FS with the state's recovery fault
// armed. An Open that fails must fail with the injected error, having
// changed nothing it cannot redo: the power is cut again (a failed
// recovery leaves what it synced and nothing else) and the next Open must
// recover. An Open that succeeds although its fault struck is checked
// like any other: the engine ignores errors of calls whose failure loses
// nothing (closing a file). A failed msync is never one of them
// (TestRecoveryDoesNotRetryFailedSync). It returns the FS the
// store was opened on; t counts a struck recovery fault.
func (st state) openAfterCrash(after *simfs.FS, r *rand.Rand, m *model, t *tally) (*simfs.FS, *engine.Store, bool) {
	if st.recoveryFault.nth > 0 {
		faults{st.recoveryFault}.arm(after)
	}
	s, err := engine.Open("crash", st.options(after))
	if after.Stats().Injected > 0 {
		t.injectedRecovery++
	}
	if err != nil && after.Stats().Injected > 0 {
		if !errors.Is(err, simfs.ErrInjected) {
			m.violate("open after the crash, with a recovery fault (%v): failed with %v, not the injected error", faults{st.recoveryFault}, err)
		}
		after = after.Crash(r, simfs.Random)
		s, err = engine.Open("crash", st.options(after))
	}
	if err != nil {
		m.violate("open after the crash (%+v): %v", after.Origin(), err)
		return after, nil, false
	}
	return after, s, true
}
