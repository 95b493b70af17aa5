package bench

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// smallConfig runs every workload at tiny sizes.
func smallConfig(dir string) Config {
	return Config{
		Dir:           dir,
		Writers:       []int{1, 16, 64},
		NoSyncWriters: []int{1, 4},
		FollowWriters: 4,
		Subscribers:   5,
		Events:        400,
		EventsSingle:  100,
		Streams:       50,
		Batch:         20,
		LoadStreams:   20,
		LoadPerStream: 50,
		LoadBatch:     10,
		Reads:         30,
		Opens:         2,
		DurationCap:   20 * time.Second,
		Settle:        -1,
		RawChunk:      256 << 10,
	}
}

func TestWorkloadsSmall(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.Options.SegmentSize = 1 << 20 // rolls segments even at this size
	rows, err := Run(context.Background(), cfg, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, k := range []string{
		"W1|C=1|raw-pre", "W1|C=1|SyncEachCommit", "W1|C=16|raw-pre", "W1|C=16|SyncEachCommit",
		"W1|C=64|raw-pre", "W1|C=64|SyncEachCommit", "W1b|batch=20|raw-pre", "W1b|batch=20|SyncEachCommit",
		"W1c|C=1|NoSync", "W1c|C=4|NoSync",
		"S1|C=4, 1 sub|SyncEachCommit", "S2|C=4, 0 subs|SyncEachCommit", "S2|C=4, 5 subs|SyncEachCommit", "L|20x50,b=10|NoSync+Sync", "W2|fwd|-", "W2|bwd|-",
		"W3|ReadAll(0)|-", "W3|filter users/1|-", "W4|open clean|-", "W5|open after kill|-",
		"W6|compact 50%|-", "W6|compact 90%|-", "W6|C=4|SyncEachCommit", "W6|C=4 +compact|SyncEachCommit", "W6|C=4 +compact 64MiB/s|SyncEachCommit",
	} {
		want[k] = true
	}
	for _, r := range rows {
		if !want[r.Key()] {
			t.Errorf("unexpected row %s", r.Key())
			continue
		}
		delete(want, r.Key())
		switch r.Workload {
		case "W1", "W1b", "W1c":
			n := int64(cfg.Events)
			if r.Workload == "W1" && r.Params == "C=1" {
				n = int64(cfg.EventsSingle)
			}
			if r.Events != n {
				t.Errorf("%s: %d events, want %d", r.Key(), r.Events, n)
			}
			if r.EventsPerSec <= 0 || r.MBPerSec <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.P999 < r.P99 {
				t.Errorf("%s: bad rates or latencies: %+v", r.Key(), r)
			}
			if r.Workload != "W1c" && !(r.XRaw > 0) {
				t.Errorf("%s: x raw %v, want > 0", r.Key(), r.XRaw)
			}
			if r.CommittedBytes < r.Events*PayloadSize {
				t.Errorf("%s: committed %d bytes for %d events", r.Key(), r.CommittedBytes, r.Events)
			}
			if r.DevBytes >= 0 && !(r.DevPerByte >= 0) {
				t.Errorf("%s: dev B/B %v", r.Key(), r.DevPerByte)
			}
		case "S1", "S2":
			if r.Events != int64(cfg.Events) || r.EventsPerSec <= 0 || r.P99 < r.P50 {
				t.Errorf("%s: bad events, rate or latencies: %+v", r.Key(), r)
			}
			if r.Params == "C=4, 5 subs" && !(r.XBase > 0) {
				t.Errorf("%s: no ratio to the run without subscribers: %+v", r.Key(), r)
			}
		case "L":
			if r.Events != int64(cfg.LoadStreams*cfg.LoadPerStream) || r.EventsPerSec <= 0 {
				t.Errorf("%s: %+v", r.Key(), r)
			}
		case "W2":
			if r.Events != int64(cfg.Reads*cfg.LoadPerStream) || r.P50 <= 0 {
				t.Errorf("%s: %+v", r.Key(), r)
			}
		case "W3":
			if r.Events != int64(cfg.LoadStreams*cfg.LoadPerStream) || r.EventsPerSec <= 0 {
				t.Errorf("%s: %+v", r.Key(), r)
			}
		case "W4", "W5":
			if r.P50 <= 0 {
				t.Errorf("%s: open time %v", r.Key(), r.P50)
			}
		case "W6":
			if r.Durability == "-" && (r.MBPerSec <= 0 || r.Events <= 0 || !strings.Contains(r.Notes, "dropped")) {
				t.Errorf("%s: compaction row %+v", r.Key(), r)
			}
			if strings.Contains(r.Params, "+compact") && (!(r.XBase > 0) || !strings.Contains(r.Notes, "p99")) {
				t.Errorf("%s: no comparison with the appends without compaction: %+v", r.Key(), r)
			}
		}
	}
	for k := range want {
		t.Errorf("missing row %s", k)
	}
	if entries, _ := os.ReadDir(cfg.Dir); len(entries) != 0 {
		t.Errorf("scratch directory left behind: %v", entries)
	}

	var b strings.Builder
	if err := WriteTable(&b, Summarize([][]Result{rows, rows})); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	if strings.Count(b.String(), "\n") != len(rows)+2 {
		t.Errorf("table has %d lines, want %d", strings.Count(b.String(), "\n"), len(rows)+2)
	}
}

func TestOnly(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.Only = []string{"W3"}
	rows, err := Run(context.Background(), cfg, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Key())
	}
	if strings.Join(keys, " ") != "L|20x50,b=10|NoSync+Sync W3|ReadAll(0)|- W3|filter users/1|-" {
		t.Errorf("rows %v", keys)
	}
	cfg.Only = []string{"W9"}
	if _, err := Run(context.Background(), cfg, nil); err == nil {
		t.Error("unknown workload accepted")
	}
}

func TestQuantiles(t *testing.T) {
	l := NewLatencies(1000)
	for i := 1000; i >= 1; i-- {
		l.Add(time.Duration(i))
	}
	q := MergeLatencies(l, NewLatencies(0), nil)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0.0001, 1}} {
		if got := q.At(c.p); got != c.want {
			t.Errorf("At(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if MergeLatencies().At(0.5) != 0 {
		t.Error("empty quantile not 0")
	}
}

func TestPayload(t *testing.T) {
	buf := make([]byte, PayloadSize)
	for _, c := range [][2]int{{0, 0}, {9999, 199999}, {123, 456}} {
		p := FillPayload(buf, c[0], c[1])
		if len(p) != PayloadSize || p[0] != '{' || p[len(p)-1] != '}' {
			t.Errorf("payload %q", p)
		}
	}
}

func TestSummarizeSpread(t *testing.T) {
	mk := func(v float64) []Result {
		return []Result{{Workload: "W1", Params: "C=1", Durability: "x", EventsPerSec: v, DevPerByte: math.NaN()}}
	}
	rows := Summarize([][]Result{mk(90), mk(100), mk(110)})
	if len(rows) != 1 || rows[0].EventsPerSec != 100 || math.Abs(rows[0].Spread-0.1) > 1e-9 || rows[0].Rounds != 3 {
		t.Errorf("%+v", rows)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestWorkloadsSegmentRolls runs the append and read workloads on 64 KiB
// segments, so that every workload crosses segment boundaries (batches
// that do not fit leave a segment ending early).
func TestWorkloadsSegmentRolls(t *testing.T) {
	cfg := smallConfig(t.TempDir())
	cfg.Writers = []int{16}
	cfg.NoSyncWriters = []int{4}
	cfg.Only = []string{"W1", "W1c", "W2", "W3", "W4"}
	cfg.Options.SegmentSize = 64 << 10
	cfg.Stall = 5 * time.Second
	rows, err := Run(context.Background(), cfg, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 9 {
		t.Errorf("%d rows, want 9", len(rows))
	}
}
