package crash

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/mmapfile/simfs"
)

// TestMappingFaultFailsStore: a page of the log that faults when the store
// touches it through its mapping (a device that cannot read the page back
// raises SIGBUS) fails the store: the read that meets it returns the fault,
// nothing more is acknowledged, and after a power cut recovery gives back
// every acknowledged event, byte-identical.
func TestMappingFaultFailsStore(t *testing.T) {
	if !simfs.FaultsAttributed() {
		t.Skip("this machine does not report fault addresses (qemu-user for arm)")
	}
	states := 200
	if testing.Short() {
		states = 20
	}
	for seed := uint64(1); seed <= uint64(states); seed++ {
		if err := mappingFaultState(seed); err != nil {
			t.Fatalf("seed %d: %v\nreplay: go test ./fuzz/crash -run TestMappingFaultFailsStore (states run from seed 1)", seed, err)
		}
	}
}

type faultAcked struct {
	stream string
	pos    uint64
	data   []byte
}

func mappingFaultState(seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0xfa17))
	fs := simfs.New(simfs.Config{Seed: seed, Faultable: true, WriteBack: 0.05})
	opts := func(f *simfs.FS) *engine.Options {
		return &engine.Options{Storage: f, SegmentSize: 64 << 10, IndexSlots: 16, MappedWrites: r.IntN(2) == 0}
	}
	s, err := engine.Open("fault", opts(fs))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	acked := map[string][]faultAcked{}
	var all []faultAcked
	for range 20 + r.IntN(150) {
		stream := fmt.Sprintf("s%d", r.IntN(4))
		data := make([]byte, 1+r.IntN([]int{100, 3000}[r.IntN(2)]))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		res, err := s.Append(bg, stream, int64(len(acked[stream]))-1, engine.Event{Type: "t", Data: data})
		if err != nil {
			return fmt.Errorf("append: %w", err)
		}
		a := faultAcked{stream, res.Position, data}
		acked[stream] = append(acked[stream], a)
		all = append(all, a)
	}

	// A page holding an acknowledged record goes bad.
	target := all[r.IntN(len(all))]
	name, off, err := locate(fs, target.pos)
	if err != nil {
		return err
	}
	if err := fs.FaultPage(name, off+r.Int64N(int64(len(target.data))+64)); err != nil {
		return err
	}
	n := 0
	for _, err := range s.ReadAll(0) {
		if err != nil {
			if !errors.Is(err, mmapfile.ErrFault) || !errors.Is(err, engine.ErrFailed) {
				return fmt.Errorf("ReadAll over a faulting page: %w, want ErrFailed and ErrFault", err)
			}
			n = -1
			break
		}
		n++
	}
	if n >= 0 {
		return fmt.Errorf("ReadAll read %d events over the faulting page in %s without an error", n, name)
	}
	if _, err := s.Append(bg, "s0", engine.Any, engine.Event{Type: "t", Data: []byte("late")}); !errors.Is(err, engine.ErrFailed) {
		return fmt.Errorf("append after the fault: %v, want ErrFailed", err)
	}

	after := fs.Crash(r, simfs.Random)
	_ = s.Close() // the failure, again
	s2, err := engine.Open("fault", opts(after))
	if err != nil {
		return fmt.Errorf("open after the crash: %w", err)
	}
	defer s2.Close()
	for stream, want := range acked {
		v := 0
		for e, err := range s2.ReadStream(stream, 0, engine.Forward) {
			if err != nil {
				return fmt.Errorf("read %s after the crash: %w", stream, err)
			}
			if v >= len(want) || e.Version != int64(v) || e.Position != want[v].pos || !bytes.Equal(e.Data, want[v].data) {
				return fmt.Errorf("%s version %d after the crash is not the acknowledged event", stream, e.Version)
			}
			v++
		}
		if v != len(want) {
			return fmt.Errorf("%s: %d of %d acknowledged events after the crash", stream, v, len(want))
		}
	}
	return nil
}
