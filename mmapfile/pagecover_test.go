package mmapfile

import (
	"os"
	"testing"
)

func TestPageCover(t *testing.T) {
	p := int64(os.Getpagesize())
	size := 5*p + 10
	for _, c := range []struct{ start, end, wantStart, wantEnd int64 }{
		{0, 1, 0, p},
		{0, p, 0, p},
		{1, p + 1, 0, 2 * p},
		{p - 1, p + 1, 0, 2 * p},
		{p, p + 1, p, 2 * p},
		{3*p + 7, 3*p + 7, 3 * p, 4 * p}, // unaligned empty range: its page (Sync never asks)
		{3 * p, 3 * p, 3 * p, 3 * p},
		{5 * p, 5*p + 10, 5 * p, size}, // clamped to the file
		{4*p + 1, 5*p + 3, 4 * p, size},
	} {
		s, e := pageCover(c.start, c.end, size)
		if s != c.wantStart || e != c.wantEnd {
			t.Errorf("pageCover(%d, %d, %d) = %d, %d; want %d, %d", c.start, c.end, size, s, e, c.wantStart, c.wantEnd)
		}
	}
}
