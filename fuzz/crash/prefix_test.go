package crash

import (
	"cmp"
	"slices"
)

// checkPrefix checks that the acknowledged batches a recovered log holds
// (seen: the IDs it returned) are a prefix, in log order, of all the
// acknowledged ones. Log order is commit order, and recovery cuts the log
// at its first damage, so a batch may be dropped (where no Sync promised
// it) only with everything after it: a log that keeps a later batch
// without an earlier one has a hole, whatever each stream's versions say.
func (m *model) checkPrefix(seen map[[16]byte]bool) {
	var all []*batch
	for _, st := range m.streams {
		for _, b := range st.batches {
			if b.status == acked {
				all = append(all, b)
			}
		}
	}
	slices.SortFunc(all, func(a, b *batch) int { return cmp.Compare(a.res.Position, b.res.Position) })
	var hole *batch
	for _, b := range all {
		switch {
		case !seen[b.events[0].ID]:
			if hole == nil {
				hole = b
			}
		case hole != nil:
			m.violate("recovered log has a hole: the acknowledged batch at position %d is missing, the one at %d is there",
				hole.res.Position, b.res.Position)
			return
		}
	}
}
