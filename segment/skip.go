package segment

// Skip pointers give every stream a deterministic skip list: with a back
// pointer and one skip pointer per record, reaching any version of an
// n-record stream takes O(log n) steps (Myers' jump pointers, as in "An
// applicative random-access stack", 1983):
//
//	skip(v) = skip(skip(v-1))  when v-1 - sv(v-1) == sv(v-1) - sv(skip(v-1))
//	skip(v) = v-1              otherwise
//
// where sv(x) is the version x's skip pointer targets. The jumps form
// skew-binary strides (1, 3, 7, 15, ...), so a seek alternates between
// taking the longest jump that does not overshoot and stepping back once.
// Computing a new record's pointer needs only the stream's newest record
// and the record its skip points at.

// NextSkip returns the skip pointer and skip version of the record that
// follows parent in its stream. skipOfParent is the record parent's skip
// pointer targets; it is only read when parent.Skip is not NoPosition.
func NextSkip(parent, skipOfParent *Record) (skip, skipVersion uint64) {
	if parent.Skip != NoPosition && skipOfParent != nil && skipOfParent.Skip != NoPosition {
		pv := uint64(parent.Version)
		if pv-parent.SkipVersion == parent.SkipVersion-skipOfParent.SkipVersion {
			return skipOfParent.Skip, skipOfParent.SkipVersion
		}
	}
	return parent.Position, uint64(parent.Version)
}

// SeekStep returns the position to go to from record r on the way to the
// stream's record of version target (< r.Version): the skip target when it
// does not overshoot, else the previous record.
func SeekStep(r *Record, target int64) uint64 {
	if r.Skip != NoPosition && int64(r.SkipVersion) >= target {
		return r.Skip
	}
	return r.Prev
}
