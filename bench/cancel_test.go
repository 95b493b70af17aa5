package bench

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// cancelOn is a log that cancels once a line starting with prefix is
// written: when the row it announces is done.
type cancelOn struct {
	mu     sync.Mutex
	prefix string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.HasPrefix(string(p), c.prefix) {
		c.cancel()
	}
	return len(p), nil
}

// TestRunStopsBetweenWorkloads: Ctrl-C once the L store is loaded. The
// read workloads took no context and Run never looked at it between
// workloads: it measured every row left and returned no error.
func TestRunStopsBetweenWorkloads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := smallConfig(t.TempDir())
	cfg.Only = []string{"W2", "W3", "W4"}
	rows, err := Run(ctx, cfg, &cancelOn{prefix: "  L ", cancel: cancel})
	if !errors.Is(err, context.Canceled) || len(rows) != 1 {
		t.Fatalf("cancelled after L: %d rows, err %v; want the L row and context.Canceled", len(rows), err)
	}
}

// TestRawBaselineStopsWithContext: the raw baseline took no context and
// ran its appends to the end (or to DurationCap) after a Ctrl-C.
func TestRawBaselineStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := smallConfig(t.TempDir()).WithDefaults()
	r := NewRunner(cfg, t.TempDir(), nil)
	res, err := r.RawRow(ctx, "W1", "C=1", 1, 300, 1)
	if !errors.Is(err, context.Canceled) || res.Events != 0 {
		t.Fatalf("raw row with an ended context: %d events, err %v", res.Events, err)
	}
}

// TestReadStreamsStopsWithContext: W2 reads until ctx ends.
func TestReadStreamsStopsWithContext(t *testing.T) {
	r := NewRunner(smallConfig(t.TempDir()).WithDefaults(), t.TempDir(), nil)
	ls, _, err := r.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rows, err := r.ReadStreams(ctx, ls); !errors.Is(err, context.Canceled) || len(rows) != 0 {
		t.Fatalf("W2 with an ended context: %d rows, err %v", len(rows), err)
	}
}
