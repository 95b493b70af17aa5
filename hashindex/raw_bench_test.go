package hashindex

import (
	"testing"
)

func BenchmarkRawRandomRead(b *testing.B) {
	ix := benchIndex(b)
	t := ix.t
	var sink uint64
	i := uint64(0)
	for b.Loop() {
		fp := synthFP(i)
		s := t.slot(fp.Hi & t.mask)
		sink += le.Uint64(s[0:]) + le.Uint64(s[40:])
		i++
	}
	_ = sink
}

func BenchmarkRawLookupNoLock(b *testing.B) {
	ix := benchIndex(b)
	t := ix.t
	i := uint64(0)
	for b.Loop() {
		_, _, _ = ix.probe(t, synthFP(i%benchEntries), nil)
		i++
	}
}

func BenchmarkRawDependentRead(b *testing.B) {
	ix := benchIndex(b)
	t := ix.t
	var sink uint64
	i := uint64(0)
	for b.Loop() {
		fp := synthFP(i + sink&1)
		s := t.slot(fp.Hi & t.mask)
		sink += le.Uint64(s[0:]) + le.Uint64(s[40:])
		i++
	}
	_ = sink
}
