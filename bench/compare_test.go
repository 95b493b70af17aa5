package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func diffOf(t *testing.T, diffs []RowDiff, key string) RowDiff {
	t.Helper()
	for _, d := range diffs {
		if d.Key == key {
			return d
		}
	}
	t.Fatalf("no row %s", key)
	return RowDiff{}
}

func TestCompareSignificantAndNoise(t *testing.T) {
	// A: ±5 % around 1x. B1: 2 % faster, inside the noise. B2: 30 %
	// faster, well outside it.
	a := sampleReport(sampleRounds(1, 0.95, 1, 1.05))
	same := sampleReport(sampleRounds(1.02, 0.96, 1, 1.04))
	faster := sampleReport(sampleRounds(1.3, 0.97, 1, 1.03))

	d := diffOf(t, Compare(a, same), "W1|C=16|SyncEachCommit")
	if d.EventsPerSec.Verdict != Noise || math.Abs(d.EventsPerSec.Ratio-1.02) > 1e-9 {
		t.Errorf("2%% inside ±5%%+±4%%: %+v", d.EventsPerSec)
	}
	if d.A.Rounds != 3 || d.B.Rounds != 3 || math.Abs(d.A.EventsPerSec.Spread-0.05) > 1e-9 {
		t.Errorf("sides: %+v %+v", d.A, d.B)
	}
	d = diffOf(t, Compare(a, faster), "W1|C=16|SyncEachCommit")
	if d.EventsPerSec.Verdict != Significant || math.Abs(d.EventsPerSec.Ratio-1.3) > 1e-9 {
		t.Errorf("30%% outside ±5%%+±3%%: %+v", d.EventsPerSec)
	}
	// Latencies scale with the factor too: 1.3x longer p50 in "faster".
	if d.P50.Verdict != Significant || math.Abs(d.P50.Ratio-1.3) > 1e-6 {
		t.Errorf("p50: %+v", d.P50)
	}
	// W4 has no rate: events/s is not applicable, p50 is compared.
	d = diffOf(t, Compare(a, faster), "W4|open clean|-")
	if d.EventsPerSec.Verdict != NotApplicable || d.P50.Verdict != Significant {
		t.Errorf("W4: %+v", d)
	}
	if g, n := GeomeanEventsPerSec(Compare(a, faster)); n != 7 || math.Abs(g-1.3) > 1e-6 {
		t.Errorf("geomean %v over %d rows", g, n)
	}
}

func TestCompareOneRoundAndOneSided(t *testing.T) {
	a := sampleReport(sampleRounds(1, 1))
	b1 := sampleRounds(1.5, 1)
	// B lacks W2 and has a row A does not.
	b1[0] = append(b1[0][:4], b1[0][5:]...)
	b1[0] = append(b1[0], Result{Workload: "W1c", Params: "C=1", Durability: "NoSync", EventsPerSec: 50000, DevPerByte: math.NaN()})
	b := sampleReport(b1)
	diffs := Compare(a, b)
	if d := diffOf(t, diffs, "W1|C=1|raw-pre"); d.EventsPerSec.Verdict != NoEstimate {
		t.Errorf("one round each: %+v", d.EventsPerSec)
	}
	if d := diffOf(t, diffs, "W2|fwd|-"); d.B != nil || d.A == nil || d.EventsPerSec.Verdict != NotApplicable {
		t.Errorf("only in A: %+v", d)
	}
	if d := diffOf(t, diffs, "W1c|C=1|NoSync"); d.A != nil || d.B == nil {
		t.Errorf("only in B: %+v", d)
	}
	if last := diffs[len(diffs)-1]; last.Key != "W1c|C=1|NoSync" {
		t.Errorf("rows only in B should come last, got %s", last.Key)
	}

	// One side with rounds lends its spread to the other.
	c := sampleReport(sampleRounds(1.5, 0.9, 1, 1.1))
	if d := diffOf(t, Compare(a, c), "W1|C=1|raw-pre"); d.EventsPerSec.Verdict != Significant || math.Abs(d.EventsPerSec.Noise-0.2) > 1e-9 {
		t.Errorf("borrowed spread: %+v", d.EventsPerSec)
	}

	var out bytes.Buffer
	if err := WriteComparison(&out, "a.json", a, "b.json", b); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"# A: a.json", "# B: b.json", "| workload", "only in A", "only in B", "? 1.50x", "1/1", "B time-capped", "geomean events/s B/A: 1.50x", "no noise estimate"} {
		if !strings.Contains(text, want) {
			t.Errorf("comparison lacks %q:\n%s", want, text)
		}
	}
	out.Reset()
	if err := WriteComparison(&out, "a", sampleReport(sampleRounds(1, 0.95, 1, 1.05)), "b", sampleReport(sampleRounds(1.02, 0.96, 1, 1.04))); err != nil {
		t.Fatal(err)
	}
	if text := out.String(); !strings.Contains(text, "~ 1.02x") || !strings.Contains(text, "±5%") || !strings.Contains(text, "3/3") || strings.Contains(text, "no noise estimate") {
		t.Errorf("noise comparison:\n%s", text)
	}
}

func TestCompareDifferingFacts(t *testing.T) {
	a, b := sampleReport(sampleRounds(1, 1)), sampleReport(sampleRounds(1, 1))
	b.Facts = append([]Fact(nil), b.Facts...)
	for i := range b.Facts {
		if b.Facts[i].Name == "kernel" {
			b.Facts[i].Value = "Linux 0.01"
		}
	}
	var out bytes.Buffer
	if err := WriteComparison(&out, "a", a, "b", b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `# differs: kernel:`) || strings.Count(out.String(), "# differs") != 1 {
		t.Errorf("facts:\n%s", out.String())
	}
}

// TestCompareMarksIncompleteReports: a report whose run stopped early
// lacks rows or rounds; the comparison must say so, not pass its rows off
// as a whole run.
func TestCompareMarksIncompleteReports(t *testing.T) {
	a, b := sampleReport(sampleRounds(1, 1)), sampleReport(sampleRounds(1, 1))
	b.Incomplete = "W2: context canceled"
	var out bytes.Buffer
	if err := WriteComparison(&out, "a", a, "b", b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# B is INCOMPLETE: W2: context canceled\n") || strings.Count(out.String(), "INCOMPLETE") != 1 {
		t.Errorf("comparison:\n%s", out.String())
	}
}
