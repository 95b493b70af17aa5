package recovery

import (
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooldb/spool/segment"
)

// TestVerifyLargeSegmentsOn32Bit: Verify caps what it maps by bytes, not
// only by segment count. The engine accepts segments of up to 1 GiB on
// 32-bit platforms too, and 16 of 256 MiB (the default segment cap there)
// are 4 GiB, more than a 32-bit process can map: the segments past the
// address space were reported as damage ("cannot map the segment again:
// cannot allocate memory"). Segments are sparse files, each holding one
// batch, the next starting where its data ends (a roll whose next batch
// did not fit). Runs on 32-bit platforms only (under qemu for arm).
func TestVerifyLargeSegmentsOn32Bit(t *testing.T) {
	if bits.UintSize != 32 {
		t.Skip("the address space of a 64-bit process holds these segments")
	}
	if testing.Short() {
		t.Skip("reads 3.5 GiB of sparse segment files")
	}
	const segSize = 256 << 20
	const segments = 14 // 3.5 GiB: more than qemu-arm or a 3 GiB split leaves
	dir := t.TempDir()
	var pos uint64
	for i := range segments {
		stream := fmt.Sprintf("s%d", i)
		b := make([]byte, segment.HeaderSize+segment.EncodedLen(len(stream), 1, 0, 8))
		segment.PutHeader(b, segment.Header{Base: pos, Size: segSize, Created: 1})
		r := segment.Record{Position: pos, Prev: segment.NoPosition, Skip: segment.NoPosition, SyncedThrough: pos,
			Timestamp: 1, Stream: []byte(stream), Type: []byte("t"), Data: []byte("12345678")}
		n, err := segment.Encode(b[segment.HeaderSize:], &r)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeSparse(filepath.Join(dir, segment.FileName(pos)), b, segSize); err != nil {
			t.Fatal(err)
		}
		pos += uint64(n)
	}
	rep := verifyT(t, dir)
	for _, p := range rep.Problems {
		t.Error(p)
	}
}

func writeSparse(path string, head []byte, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	_, err = f.WriteAt(head, 0)
	return err
}
