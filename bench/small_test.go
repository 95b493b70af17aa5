package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestSmallConfig(t *testing.T) {
	c := SmallConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.PeakDiskBytes(); got > SmallDiskBudget/4 {
		// A quarter: the page cache of a 512 MB board must hold the L
		// store and room is left for the device's own slack.
		t.Errorf("peak disk %d MiB, want at most %d MiB", got>>20, SmallDiskBudget/4>>20)
	}
	if c.Options.SegmentSize != 16<<20 || !slices.Equal(c.Writers, []int{1, 16, 64}) || c.LoadStreams != 200 || c.LoadPerStream != 1000 {
		t.Errorf("small sizes changed: %+v", c)
	}
	// Every workload still runs, and the L store fits the RAM budget's
	// page cache many times over.
	for _, w := range Workloads {
		if !c.Wants(w) {
			t.Errorf("small config skips %s", w)
		}
	}
	if store := int64(c.LoadStreams) * int64(c.LoadPerStream) * RecordSize; store > SmallRAMBudget/4 {
		t.Errorf("L store %d MiB does not fit a quarter of %d MiB", store>>20, SmallRAMBudget>>20)
	}
	// The defaults would not fit: the estimate is not vacuous.
	if (Config{}).PeakDiskBytes() <= c.PeakDiskBytes() {
		t.Error("default config estimated no larger than the small one")
	}
}

func TestFactsNeverEmpty(t *testing.T) {
	facts := append(Measure(t.TempDir()).Facts(), SmallConfig().Facts()...)
	names := map[string]bool{}
	for _, f := range facts {
		names[f.Name] = true
		if strings.TrimSpace(f.Value) == "" {
			t.Errorf("fact %s is empty", f.Name)
		}
	}
	for _, n := range []string{"platform", "go", "cpu", "cores", "memory", "kernel", "fs", "device", "engine", "durability", "event", "store"} {
		if !names[n] {
			t.Errorf("no %s fact", n)
		}
	}
	var m Machine
	m.CPUs, m.GOOS, m.GOARCH = 1, "plan9", "386"
	for _, f := range m.Facts() {
		if f.Value == "" {
			t.Errorf("empty machine: fact %s is empty, want %q", f.Name, Unknown)
		}
	}
}
