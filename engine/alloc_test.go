package engine

import (
	"fmt"
	"testing"
)

// TestReadAllocations checks that reads allocate per call, not per event:
// a stream read verifies every record on the way, and that verification
// must not allocate.
func TestReadAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	s := openT(t, t.TempDir(), &Options{Durability: NoSync})
	defer closeT(t, s)
	const n = 500
	for i := range n {
		appendT(t, s, "s", int64(i)-1, Event{Type: "t", Data: []byte(fmt.Sprint(i))})
		appendT(t, s, "other", int64(i)-1, Event{Type: "t", Data: []byte("x")})
	}
	reads := map[string]func(){
		"ReadStream forward": func() {
			for _, err := range s.ReadStream("s", 0, Forward) {
				if err != nil {
					t.Fatal(err)
				}
			}
		},
		"ReadStream backward": func() {
			for _, err := range s.ReadStream("s", End, Backward) {
				if err != nil {
					t.Fatal(err)
				}
			}
		},
		"ReadAllFiltered": func() {
			f := &Filter{StreamPrefix: "s", Match: func(h *EventHeader) bool { return h.Version%2 == 0 }}
			for _, err := range s.ReadAllFiltered(0, f) {
				if err != nil {
					t.Fatal(err)
				}
			}
		},
		"ReadAll": func() {
			for _, err := range s.ReadAll(0) {
				if err != nil {
					t.Fatal(err)
				}
			}
		},
	}
	for name, read := range reads {
		a := testing.AllocsPerRun(20, read)
		t.Logf("%s: %.0f allocations", name, a)
		if a > 10 {
			t.Errorf("%s of %d events: %.0f allocations", name, n, a)
		}
	}
}
