package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// sampleRounds makes rounds of W1 (raw and engine, C=1 and 16), W2, W3
// and W4 rows whose events/s and latencies are base * factor[round].
func sampleRounds(base float64, factors ...float64) [][]Result {
	var rounds [][]Result
	for _, f := range factors {
		ev := func(x float64) float64 { return x * base * f }
		dur := func(d time.Duration) time.Duration { return time.Duration(float64(d) * base * f) }
		round := []Result{
			{Workload: "W1", Params: "C=1", Durability: "raw-pre", Raw: true, Events: 100, Seconds: 0.1, EventsPerSec: ev(1000), P50: dur(900 * time.Microsecond), P99: dur(2 * time.Millisecond), P999: dur(3 * time.Millisecond), XRaw: 1, DevBytes: 4096, CommittedBytes: 2240, DevPerByte: 1.83},
			{Workload: "W1", Params: "C=1", Durability: "SyncEachCommit", Events: 100, Seconds: 0.1, EventsPerSec: ev(900), P50: dur(time.Millisecond), P99: dur(2 * time.Millisecond), P999: dur(4 * time.Millisecond), XRaw: 0.9, DevBytes: -1, DevPerByte: math.NaN()},
			{Workload: "W1", Params: "C=16", Durability: "raw-pre", Raw: true, Events: 400, Seconds: 0.1, EventsPerSec: ev(8000), P50: dur(2 * time.Millisecond), P99: dur(5 * time.Millisecond), P999: dur(6 * time.Millisecond), XRaw: 1, DevBytes: -1, DevPerByte: math.NaN()},
			{Workload: "W1", Params: "C=16", Durability: "SyncEachCommit", Events: 400, Seconds: 0.1, EventsPerSec: ev(9000), P50: dur(2 * time.Millisecond), P99: dur(4 * time.Millisecond), P999: dur(7 * time.Millisecond), XRaw: 1.12, DevBytes: -1, DevPerByte: math.NaN(), Capped: true, Notes: "a note, with <html> & \"quotes\""},
			{Workload: "W2", Params: "fwd", Durability: "-", Events: 1000, Seconds: 0.01, EventsPerSec: ev(1e5), P50: dur(20 * time.Microsecond), P99: dur(50 * time.Microsecond), P999: dur(60 * time.Microsecond), DevBytes: -1, DevPerByte: math.NaN()},
			{Workload: "W3", Params: "ReadAll(0)", Durability: "-", Events: 1000, Seconds: 0.001, EventsPerSec: ev(5e6), MBPerSec: 500, DevBytes: -1, DevPerByte: math.NaN()},
			{Workload: "W3", Params: "filter users/1", Durability: "-", Events: 1000, Seconds: 0.001, EventsPerSec: ev(4e6), DevBytes: -1, DevPerByte: math.NaN()},
			{Workload: "W4", Params: "open clean", Durability: "-", P50: dur(3 * time.Millisecond), P99: dur(4 * time.Millisecond), P999: dur(4 * time.Millisecond), DevBytes: -1, DevPerByte: math.NaN()},
		}
		rounds = append(rounds, round)
	}
	return rounds
}

func sampleReport(rounds [][]Result) *Report {
	m := Measure(".")
	cfg := SmallConfig()
	facts := append(m.Facts(), cfg.Facts()...)
	return NewReport(m, facts, cfg.JSON(true), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 90*time.Second, rounds)
}

func TestReportJSONRoundTrip(t *testing.T) {
	rounds := sampleRounds(1, 1, 1.1, 0.95)
	rep := sampleReport(rounds)
	rep.Incomplete = "round 3: something"
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, field := range []string{`"schema": "spool-bench"`, `"version": 1`, `"p50_ns": 1000000`, `"events_per_s"`,
		`"device_bytes_per_committed_byte": null`, `"spread"`, `"segment_bytes": 16777216`, `"fs_type"`, `"small": true`} {
		if !strings.Contains(text, field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
	got, err := ReadReport(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	// Results survive: compare through the text form, since NaN != NaN.
	back := got.Results()
	if len(back) != len(rounds) {
		t.Fatalf("%d rounds back, want %d", len(back), len(rounds))
	}
	for i := range rounds {
		for j := range rounds[i] {
			w, g := rounds[i][j], back[i][j]
			if w.Key() != g.Key() || w.EventsPerSec != g.EventsPerSec || w.P50 != g.P50 || w.P999 != g.P999 ||
				w.DevBytes != g.DevBytes || w.Capped != g.Capped || w.Notes != g.Notes ||
				math.IsNaN(w.DevPerByte) != math.IsNaN(g.DevPerByte) || (!math.IsNaN(w.DevPerByte) && w.DevPerByte != g.DevPerByte) {
				t.Errorf("round %d row %d: got %+v, want %+v", i, j, g, w)
			}
		}
	}
	rows, want := got.Rows(), Summarize(rounds)
	if len(rows) != len(want) {
		t.Fatalf("%d summary rows, want %d", len(rows), len(want))
	}
	for i := range want {
		if rows[i].Key() != want[i].Key() || rows[i].Rounds != 3 || rows[i].EventsPerSec != want[i].EventsPerSec ||
			rows[i].Spread != want[i].Spread || rows[i].P50 != want[i].P50 {
			t.Errorf("summary row %d: got %+v, want %+v", i, rows[i], want[i])
		}
	}
	if got.Machine != rep.Machine || got.Incomplete != rep.Incomplete || !got.Started.Equal(rep.Started) || len(got.Facts) != len(rep.Facts) {
		t.Errorf("report header did not survive: %+v", got)
	}
	var again bytes.Buffer
	if err := got.WriteJSON(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != text {
		t.Error("JSON -> report -> JSON changed the text")
	}
}

func TestReadReportRejects(t *testing.T) {
	for name, text := range map[string]string{
		"not json":      "# platform: linux",
		"other schema":  `{"schema":"benchstat","version":1}`,
		"newer version": `{"schema":"spool-bench","version":99}`,
		"bad number":    `{"schema":"spool-bench","version":1,"wall_s":"x"}`,
	} {
		if _, err := ReadReport(strings.NewReader(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Fields a later writer of the same version adds are ignored.
	if _, err := ReadReport(strings.NewReader(`{"schema":"spool-bench","version":1,"new_field":[1,2]}`)); err != nil {
		t.Errorf("unknown field: %v", err)
	}
}

func TestFloatJSON(t *testing.T) {
	for _, v := range []float64{0, 1.5, -2, 1e300, math.NaN(), math.Inf(1)} {
		b, err := json.Marshal(Float(v))
		if err != nil {
			t.Fatal(err)
		}
		var f Float
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		want := v
		if math.IsInf(v, 0) {
			want = math.NaN() // not representable: null, read back as unknown
		}
		if got := float64(f); !(got == want || math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%v -> %s -> %v", v, b, got)
		}
	}
}
