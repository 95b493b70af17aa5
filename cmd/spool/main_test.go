package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/segment"
)

func runCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	if code, _, e := runCmd(); code != 1 || !strings.Contains(e, "usage: spool") {
		t.Errorf("no args: %d %q", code, e)
	}
	if code, _, e := runCmd("nope"); code != 1 || !strings.Contains(e, "unknown command") {
		t.Errorf("unknown: %d %q", code, e)
	}
	if code, o, _ := runCmd("help"); code != 0 || !strings.Contains(o, "bench") {
		t.Errorf("help: %d %q", code, o)
	}
	if code, _, e := runCmd("bench", "--only", "W9"); code != 1 || !strings.Contains(e, "unknown workload") {
		t.Errorf("bench --only W9: %d %q", code, e)
	}
	if code, _, e := runCmd("bench", "--prep", "sparse"); code != 1 || !strings.Contains(e, "segment preparation") {
		t.Errorf("bench --prep sparse: %d %q", code, e)
	}
	if code, _, e := runCmd("stat", t.TempDir()); code != 1 || !strings.Contains(e, "not a spool store") {
		t.Errorf("stat empty dir: %d %q", code, e)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "64k": 64 << 10, "64KiB": 64 << 10, "16M": 16 << 20, "16 MiB": 16 << 20, "1g": 1 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1.5M"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestStatDump(t *testing.T) {
	dir := t.TempDir()
	s, err := engine.Open(dir, &engine.Options{SegmentSize: 64 << 10, Durability: engine.NoSync})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 30 {
		data := []byte(`{"i":1}`)
		if i%2 == 1 {
			data = []byte{0, 0xff, 7}
		}
		if _, err := s.Append(ctx, []string{"a", "b", "c"}[i%3], engine.Any, engine.Event{Type: "T", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	code, o, e := runCmd("stat", dir, "--count")
	if code != 0 || !strings.Contains(o, "streams:") || !strings.Contains(o, " 30 (scanned in") || !strings.Contains(o, "slots, ") {
		t.Errorf("stat: %d\n%s\n%s", code, o, e)
	}
	code, o, e = runCmd("dump", dir, "--limit", "4")
	if code != 0 || strings.Count(o, "\n") != 5 || !strings.Contains(o, `{"i":1}`) || !strings.Contains(o, "hex:00ff07") {
		t.Errorf("dump: %d\n%s\n%s", code, o, e)
	}
	code, o, e = runCmd("dump", "--stream", "b", "--backward", dir)
	lines := strings.Split(strings.TrimSpace(o), "\n")
	if code != 0 || len(lines) != 11 || !strings.Contains(lines[1], "\tb\t9\t") || !strings.Contains(lines[10], "\tb\t0\t") {
		t.Errorf("dump stream backward: %d\n%s\n%s", code, o, e)
	}
	if code, _, e := runCmd("dump", dir, "--from", "3"); code != 1 || !strings.Contains(e, "invalid log position") {
		t.Errorf("dump --from 3: %d %q", code, e)
	}
	// A stream past its newest version prints the header only; one that
	// has no events at all is most likely a typo.
	if code, o, e := runCmd("dump", dir, "--stream", "b", "--from", "10"); code != 0 || strings.Count(o, "\n") != 1 {
		t.Errorf("dump --stream b --from 10: %d\n%s\n%s", code, o, e)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--stream", "nope"}, `stream "nope" has no events`},
		{[]string{"--stream", "nope", "--backward"}, `stream "nope" has no events`},
		{[]string{"--stream", ""}, "--stream needs a stream ID"},
		{[]string{"--limit", "-3"}, "--limit"},
		{[]string{"--stream", "b", "--limit", "-1"}, "--limit"},
	} {
		if code, _, e := runCmd(append([]string{"dump", dir}, c.args...)...); code != 1 || !strings.Contains(e, c.want) {
			t.Errorf("dump %q: %d %q, want exit 1 and %q", c.args, code, e, c.want)
		}
	}
}

// compactableStore writes 10 streams over 64 KiB segments and deletes 9
// of them.
func compactableStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := engine.Open(dir, &engine.Options{SegmentSize: 64 << 10, Durability: engine.NoSync})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := []byte(strings.Repeat("d", 500))
	for i := range 600 {
		if _, err := s.Append(ctx, fmt.Sprintf("s-%d", i%10), engine.Any, engine.Event{Type: "T", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 9 {
		if err := s.DeleteStream(ctx, fmt.Sprintf("s-%d", i), engine.Any); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCompactLeavesDamagedSegment: a damaged record in the first segment
// leaves it as it is; the rest is compacted, the report says so and the
// command fails.
func TestCompactLeavesDamagedSegment(t *testing.T) {
	dir := compactableStore(t)
	first := filepath.Join(dir, segment.FileName(0))
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	b[segment.HeaderSize+segment.RecordHeaderSize] ^= 1 // the first record's stream ID
	if err := os.WriteFile(first, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, o, e := runCmd("compact", dir)
	if code != 1 || !strings.Contains(o, "damaged segments:") || !strings.Contains(o, " 1, left as they are") || !strings.Contains(e, "checksum mismatch") {
		t.Fatalf("compact: %d\n%s\n%s", code, o, e)
	}
	var rewritten int
	for _, line := range strings.Split(o, "\n") {
		if strings.HasPrefix(line, "segments rewritten:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "segments rewritten:")), "%d", &rewritten)
		}
	}
	if rewritten == 0 {
		t.Fatalf("compact rewrote no segment:\n%s", o)
	}
	if after, err := os.ReadFile(first); err != nil || !bytes.Equal(b, after) {
		t.Fatalf("the damaged segment changed (%v)", err)
	}
}

func TestCompact(t *testing.T) {
	dir := compactableStore(t)
	code, o, e := runCmd("compact", dir)
	if code != 0 || !strings.Contains(o, "segments rewritten:") || !strings.Contains(o, "dropped") || !strings.Contains(e, "run 1: measuring") ||
		strings.Count(e, "surveying") != 1 || !strings.Contains(e, "surveying 0/") {
		t.Fatalf("compact: %d\n%s\n%s", code, o, e)
	}
	var kept, dropped int
	for _, line := range strings.Split(o, "\n") {
		if strings.HasPrefix(line, "records:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "records:")), "%d kept, %d dropped", &kept, &dropped)
		}
	}
	if dropped < 400 {
		t.Fatalf("compact dropped %d records:\n%s", dropped, o)
	}
	code, o, e = runCmd("stat", dir, "--count")
	if code != 0 || !strings.Contains(o, " 60 (scanned in") {
		t.Errorf("stat after compact: %d\n%s\n%s", code, o, e)
	}
	if code, o, e := runCmd("verify", dir); code != 0 {
		t.Errorf("verify after compact: %d\n%s\n%s", code, o, e)
	}
	// Out of range, and 0, which the engine reads as its default 0.5
	// (the flag used to pass it on); a --rate of 0 means no limit, which
	// the engine spells -1 (0 is its default, 64 MB/s).
	for _, bad := range [][]string{{"--min-dead", "3"}, {"--min-dead", "0"}, {"--min-dead", "NaN"}, {"--rate", "-1"}} {
		if code, _, e := runCmd(append([]string{"compact", dir}, bad...)...); code != 1 || !strings.Contains(e, "usage error: "+bad[0]) {
			t.Errorf("compact %v: %d %q", bad, code, e)
		}
	}
}

// TestCompactOptions: the flags mean what their help says. A --rate of 0
// ("no limit") used to reach the engine as 0, its default of 64 MB/s, and
// one below a byte per second too.
func TestCompactOptions(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want int64
	}{{0, -1}, {0.5, 500_000}, {200, 200_000_000}, {1e-9, 1}} {
		o, err := compactOptions(0.5, c.rate)
		if err != nil || o.BytesPerSecond != c.want || o.MinDeadRatio != 0.5 {
			t.Errorf("--rate %v: %+v, %v; want %d bytes/s", c.rate, o, err, c.want)
		}
	}
}

// TestStatSaysReplayed: stat of a store left unclean (here a copy of a
// running one) said "index rebuilt" when Open had only replayed the index
// from its checkpoint.
func TestStatSaysReplayed(t *testing.T) {
	dir, copyDir := t.TempDir(), t.TempDir()
	s, err := engine.Open(dir, &engine.Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 30 {
		if _, err := s.Append(context.Background(), fmt.Sprint("s", i%3), engine.Any, engine.Event{Type: "t", Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	for _, f := range append(files, filepath.Join(dir, "index")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, o, e := runCmd("stat", copyDir)
	if code != 0 || !strings.Contains(o, "index replayed from its checkpoint") {
		t.Fatalf("stat of an unclean copy: exit %d\n%s%s", code, o, e)
	}
}
