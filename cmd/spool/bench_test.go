package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spooldb/spool/bench"
)

func TestBenchSmallFlags(t *testing.T) {
	br, err := parseBenchFlags([]string{"--small", "--dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := bench.SmallConfig()
	c := br.cfg
	if !br.small || c.Events != s.Events || c.EventsSingle != s.EventsSingle || !slices.Equal(c.Writers, s.Writers) ||
		c.LoadStreams != s.LoadStreams || c.LoadPerStream != s.LoadPerStream || c.Options.SegmentSize != s.Options.SegmentSize ||
		c.Subscribers != s.Subscribers || c.RawChunk != s.RawChunk {
		t.Errorf("--small config %+v, want the sizes of %+v", c, s)
	}
	if c.PeakDiskBytes() > bench.SmallDiskBudget {
		t.Errorf("--small needs %d MiB of disk", c.PeakDiskBytes()>>20)
	}
	// Explicit flags win over --small, in either order.
	br, err = parseBenchFlags([]string{"--events", "2000", "--small", "--load", "10x100", "--segment-size", "1MiB", "--dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if br.cfg.Events != 2000 || br.cfg.LoadStreams != 10 || br.cfg.Options.SegmentSize != 1<<20 || !slices.Equal(br.cfg.Writers, s.Writers) {
		t.Errorf("explicit flags with --small: %+v", br.cfg)
	}
	// Without --small, the defaults are the suite's.
	br, err = parseBenchFlags([]string{"--dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if br.small || br.cfg.Events != bench.DefaultEvents || !slices.Equal(br.cfg.Writers, []int{1, 16, 256}) || br.cfg.Options.SegmentSize != 0 {
		t.Errorf("default config %+v", br.cfg)
	}
	var help strings.Builder
	parseBenchFlags([]string{"-h"}, &help)
	for _, want := range []string{"-small", "200x1000", "16MiB", "-json", "-report", "spool bench compare"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if _, err := parseBenchFlags([]string{"--json", "/nonexistent-dir/x.json"}, io.Discard); err == nil {
		t.Error("--json into a missing directory accepted before the run")
	}
}

// TestBenchFlagsRejectBadSizes: sizes that would mean "the default" to
// bench.Config (zero, negative), malformed --load values, and sizes so
// large that the run would allocate every sample or preallocate a raw log
// bigger than the disk are errors before anything runs.
func TestBenchFlagsRejectBadSizes(t *testing.T) {
	for _, args := range [][]string{
		{"--events", "0"}, {"--events", "-1"}, {"--batch", "-5"}, {"--streams", "0"},
		{"--reads", "-1"}, {"--opens", "-1"}, {"--subscribers", "-1"}, {"--single-events", "-1"},
		{"--duration-cap", "-1s"}, {"--duration-cap", "0s"},
		{"--load", "10x10junk"}, {"--load", "10x10x10"}, {"--load", "x10"}, {"--load", "0x10"}, {"--load", "10"},
		{"--events", "999999999999"}, {"--load", "2000000000x2000000000"}, {"--streams", "1000000000"},
		{"--opens", "1000000"},
		// A batch larger than a segment failed only when W1b ran, after
		// every W1 row; a writer count given twice read as two rounds.
		{"--segment-size", "64k", "--batch", "1000"},
		{"--writers", "2,2"}, {"--nosync-writers", "16,1,16"},
		{"--only", ",,"}, // an empty list would run the whole suite
	} {
		if _, err := parseBenchFlags(append(args, "--dir", t.TempDir()), io.Discard); err == nil {
			t.Errorf("spool bench %s accepted", strings.Join(args, " "))
		}
	}
	// --json naming a directory, or into one that refuses files, failed
	// only after the whole run (the check looked at its directory only).
	dir := t.TempDir()
	if _, err := parseBenchFlags([]string{"--dir", dir, "--json", dir}, io.Discard); err == nil {
		t.Errorf("--json %s (a directory) accepted", dir)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the --json checks left %d files in %s", len(ents), dir)
	}
	br, err := parseBenchFlags([]string{"--load", "20x30", "--events", "1", "--dir", t.TempDir()}, io.Discard)
	if err != nil || br.cfg.LoadStreams != 20 || br.cfg.LoadPerStream != 30 || br.cfg.Events != 1 {
		t.Errorf("--load 20x30 --events 1: %+v, %v", br.cfg, err)
	}
}

// TestBenchJSONReportCompare runs a tiny suite twice with --json and
// --report, then compares the two files.
func TestBenchJSONReportCompare(t *testing.T) {
	tmp := t.TempDir()
	var paths []string
	for _, name := range []string{"a", "b"} {
		path := filepath.Join(tmp, name+".json")
		report := filepath.Join(tmp, name+"-report")
		code, o, e := runCmd("bench", "--dir", tmp, "--only", "W1", "--writers", "1,4", "--events", "40", "--single-events", "20",
			"--segment-size", "1MiB", "--settle", "0", "--rounds", "2", "--json", path, "--report", report)
		if code != 0 {
			t.Fatalf("bench: %d\n%s\n%s", code, o, e)
		}
		for _, want := range []string{"# fs:", "# device:", "# durability:", "# event:", "# store:", "| W1 "} {
			if !strings.Contains(o, want) {
				t.Errorf("bench output lacks %q:\n%s", want, o)
			}
		}
		for _, f := range []string{"index.html", "throughput.svg", "latency.svg", "report.json"} {
			if _, err := os.Stat(filepath.Join(report, f)); err != nil {
				t.Error(err)
			}
		}
		paths = append(paths, path)
	}
	code, o, e := runCmd("bench", "compare", paths[0], paths[1])
	if code != 0 {
		t.Fatalf("compare: %d\n%s\n%s", code, o, e)
	}
	for _, want := range []string{"# A: ", "# B: ", "| W1 ", "C=4", "SyncEachCommit", "raw-pre", "2/2", "geomean"} {
		if !strings.Contains(o, want) {
			t.Errorf("compare output lacks %q:\n%s", want, o)
		}
	}
	if code, _, e := runCmd("bench", "compare", paths[0]); code != 1 || !strings.Contains(e, "two report files") {
		t.Errorf("compare with one file: %d %q", code, e)
	}
	bad := filepath.Join(tmp, "bad.json")
	os.WriteFile(bad, []byte(`{"schema":"x"}`), 0o644)
	if code, _, e := runCmd("bench", "compare", paths[0], bad); code != 1 || !strings.Contains(e, "not a spool bench report") {
		t.Errorf("compare with a foreign file: %d %q", code, e)
	}
}
