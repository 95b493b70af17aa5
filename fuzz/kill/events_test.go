package kill

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/engine"
)

const (
	streamCount = 48
	eventType   = "Killed"
)

func streamName(i int) string { return fmt.Sprintf("s/%02d", i) }

// eventData is the content of version v of stream: a pure function of
// both, so that any event read back can be checked. Sizes are mostly
// small, sometimes several pages, rarely most of a 64 KiB segment.
func eventData(stream string, v int64) []byte {
	seed := xxhash.Sum64String(stream) ^ uint64(v)*0x9e3779b97f4a7c15
	rng := rand.New(rand.NewPCG(seed, 1))
	var n int
	switch x := rng.IntN(100); {
	case x < 85:
		n = 1 + rng.IntN(400)
	case x < 99:
		n = 3000 + rng.IntN(9000)
	default:
		n = 30000 + rng.IntN(10000)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// batchMeta records, in every event of a batch, the versions the batch
// spans, so a reader can tell whether a batch came back whole.
func batchMeta(first, last int64) []byte {
	var m [16]byte
	binary.LittleEndian.PutUint64(m[:], uint64(first))
	binary.LittleEndian.PutUint64(m[8:], uint64(last))
	return m[:]
}

func parseBatchMeta(m []byte) (first, last int64, ok bool) {
	if len(m) != 16 {
		return 0, 0, false
	}
	return int64(binary.LittleEndian.Uint64(m)), int64(binary.LittleEndian.Uint64(m[8:])), true
}

// checkEvent reports what is wrong with ev as version want of stream.
func checkEvent(stream string, want int64, ev engine.RecordedEvent) error {
	if ev.Stream != stream || ev.Version != want {
		return fmt.Errorf("read %s@%d where %s@%d was expected", ev.Stream, ev.Version, stream, want)
	}
	if ev.Type != eventType {
		return fmt.Errorf("%s@%d: type %q", stream, want, ev.Type)
	}
	if !bytes.Equal(ev.Data, eventData(stream, want)) {
		return fmt.Errorf("%s@%d: data differs from what was appended (%d bytes read)", stream, want, len(ev.Data))
	}
	first, last, ok := parseBatchMeta(ev.Metadata)
	if !ok || first > want || last < want {
		return fmt.Errorf("%s@%d: batch metadata %x does not span it", stream, want, ev.Metadata)
	}
	return nil
}
