package hashindex

import (
	"testing"

	"github.com/cespare/xxhash/v2"
	metro "github.com/dgryski/go-metro"
)

func TestFingerprintOf(t *testing.T) {
	for _, id := range []string{"", "a", "order-42", "a-much-longer-stream-identifier-with-more-than-32-bytes"} {
		want := Fingerprint{Hi: xxhash.Sum64String(id), Lo: metro.Hash64([]byte(id), 0)}
		if got := FingerprintOf([]byte(id)); got != want {
			t.Errorf("FingerprintOf(%q) = %v, want %v", id, got, want)
		}
		if got := FingerprintString(id); got != want {
			t.Errorf("FingerprintString(%q) = %v, want %v", id, got, want)
		}
	}
	if FingerprintString("a") == FingerprintString("b") {
		t.Fatal("different IDs share a fingerprint")
	}
}

func TestFingerprintStringDoesNotAllocate(t *testing.T) {
	id := "stream-with-a-reasonably-long-name"
	var sink Fingerprint
	if n := testing.AllocsPerRun(100, func() { sink = FingerprintString(id) }); n != 0 {
		t.Fatalf("FingerprintString allocates %v times", n)
	}
	_ = sink
}

func TestFingerprintZeroIsRemapped(t *testing.T) {
	restore := SetFingerprintFuncForTest(func([]byte) Fingerprint { return Fingerprint{} })
	got := FingerprintString("x")
	restore()
	if got != (Fingerprint{Hi: 0, Lo: 1}) {
		t.Fatalf("zero fingerprint remapped to %v, want (0,1)", got)
	}
	if FingerprintString("x").IsZero() || FingerprintString("x").Hi == 0 {
		t.Fatal("restore did not bring back the real hash")
	}
}
