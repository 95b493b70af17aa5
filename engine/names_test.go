package engine

import (
	"fmt"
	"sync"
	"testing"
	"unsafe"
)

// TestNameTable: concurrent readers get the right string for every name; a
// known name is shared, not allocated again; the table stops growing at
// maxNames without ever returning a wrong name.
func TestNameTable(t *testing.T) {
	var nt nameTable
	const readers, names = 8, 3000
	got := make([][]string, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				got[r] = append(got[r], nt.get([]byte(fmt.Sprintf("stream-%d", (i*7+r)%names))))
			}
		}()
	}
	wg.Wait()
	for r := range readers {
		for i, s := range got[r] {
			if want := fmt.Sprintf("stream-%d", (i*7+r)%names); s != want {
				t.Fatalf("reader %d got %q for %q", r, s, want)
			}
		}
	}
	a, b := nt.get([]byte("stream-5")), nt.get([]byte("stream-5"))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatal("a known name is allocated again")
	}
	if n := testing.AllocsPerRun(100, func() { nt.get([]byte("stream-9")) }); n != 0 {
		t.Fatalf("lookup of a known name allocates %v times", n)
	}
	for i := range maxNames + 100 {
		nt.get([]byte(fmt.Sprintf("many-%d", i)))
	}
	if s := nt.get([]byte("many-extra")); s != "many-extra" {
		t.Fatalf("past the cap: %q", s)
	}
	if m := nt.snap.Load(); m == nil || len(*m)+len(nt.pending) > maxNames {
		t.Fatalf("table holds more than %d names", maxNames)
	}
}
