package fuzz

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The seed corpus lives in testdata/fuzz/<Target>/, where go test runs it
// as part of each Fuzz target and the fuzzer starts from it. Generated
// seeds are named "<outcome>-<what>", and TestSeedOutcomes checks that each
// still has that outcome, so a seed that silently stopped reaching the code
// it was made for (say, every store refused at Open) fails the build.
// Inputs the fuzzer found keep their hash names and only need to pass.
//
// Regenerate with: go test ./fuzz -run=TestWriteSeedCorpus -fuzz.update

var update = flag.Bool("fuzz.update", false, "rewrite the generated seed corpus in testdata/fuzz")

// seed is one generated corpus entry.
type seed struct {
	name string
	args []any
}

// targets lists each Fuzz target with its argument types, its seeds and
// the property check the unit test runs them through.
var targets = []struct {
	name  string
	types []reflect.Type
	seeds func(testing.TB) []seed
	run   func(t testing.TB, args []any) string
}{
	{
		name:  "FuzzRecordDecode",
		types: typesOf([]byte(nil), int64(0), uint64(0), uint8(0)),
		seeds: recordSeeds,
		run: func(t testing.TB, a []any) string {
			data := a[0].([]byte)
			return bounded(t, recordBudget(len(data)), func() (string, error) {
				return checkRecord(data, a[1].(int64), a[2].(uint64), a[3].(uint8))
			})
		},
	},
	{
		name:  "FuzzSegmentScan",
		types: typesOf([]byte(nil), []byte(nil), uint64(0), uint64(0), uint64(0), uint8(0)),
		seeds: scanSeeds,
		run: func(t testing.TB, a []any) string {
			b1, b2 := a[0].([]byte), a[1].([]byte)
			dir := t.TempDir()
			return bounded(t, scanBudget(len(b1)+len(b2)), func() (string, error) {
				return checkScan(dir, b1, b2, a[2].(uint64), a[3].(uint64), a[4].(uint64), a[5].(uint8))
			})
		},
	},
	{
		name:  "FuzzIndexOpen",
		types: typesOf([]byte(nil), uint64(0), uint8(0)),
		seeds: indexSeeds,
		run: func(t testing.TB, a []any) string {
			img := a[0].([]byte)
			dir := t.TempDir()
			return bounded(t, indexBudget(len(img)), func() (string, error) {
				return checkIndex(dir, img, a[1].(uint64), a[2].(uint8))
			})
		},
	},
	{
		name:  "FuzzDirectoryOpen",
		types: typesOf([]byte(nil), uint8(0)),
		seeds: dirSeeds,
		run: func(t testing.TB, a []any) string {
			archive := a[0].([]byte)
			total := len(archive)
			for _, df := range decodeArchive(archive) {
				total += len(df.data)
			}
			dir := t.TempDir()
			return bounded(t, dirBudget(total), func() (string, error) {
				return checkDirectory(dir, archive, a[1].(uint8))
			})
		},
	},
}

func typesOf(vs ...any) []reflect.Type {
	ts := make([]reflect.Type, len(vs))
	for i, v := range vs {
		ts[i] = reflect.TypeOf(v)
	}
	return ts
}

func corpusDir(target string) string { return filepath.Join("testdata", "fuzz", target) }

// expectedOutcome is the outcome a generated seed's name promises, or "".
func expectedOutcome(name string) string {
	out, _, ok := strings.Cut(name, "-")
	if !ok {
		return ""
	}
	switch out {
	case "ok", "peek", "corrupt", "header", "invalid", "damaged", "clean", "replayed", "rebuilt":
		return out
	}
	return ""
}

// TestSeedOutcomes runs every corpus file through its target's property
// check and checks the outcome its name promises, and that each target's
// seeds reach both accepting and refusing paths.
func TestSeedOutcomes(t *testing.T) {
	total, complete := 0, 0
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			ents, err := os.ReadDir(corpusDir(tg.name))
			if err != nil {
				t.Fatal(err)
			}
			outcomes := map[string]int{}
			ran := 0
			for _, e := range ents {
				args, err := readCorpusFile(filepath.Join(corpusDir(tg.name), e.Name()), tg.types)
				if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				t.Run(e.Name(), func(t *testing.T) {
					ran++
					out := tg.run(t, args)
					outcomes[out]++
					if want := expectedOutcome(e.Name()); want != "" && out != want {
						t.Errorf("outcome %q, the seed was made for %q", out, want)
					}
				})
			}
			if ran < len(ents) {
				return // -run selected some seeds only: the tallies say nothing
			}
			total += len(ents)
			complete++
			t.Logf("%d seeds: %v", len(ents), outcomes)
			accepted := outcomes["ok"] + outcomes["clean"] + outcomes["replayed"] + outcomes["rebuilt"]
			if accepted < 3 || len(ents)-accepted < 3 {
				t.Errorf("seeds should both pass and fail the format checks, outcomes %v", outcomes)
			}
		})
	}
	if complete == len(targets) && total < 100 {
		t.Errorf("%d seeds in all, want at least 100", total)
	}
}

// TestWriteSeedCorpus regenerates the seed corpus; it runs only with
// -fuzz.update. Files the fuzzer added (not named by an outcome) are kept.
func TestWriteSeedCorpus(t *testing.T) {
	if !*update {
		t.Skip("regenerates testdata/fuzz; run with -fuzz.update")
	}
	for _, tg := range targets {
		dir := corpusDir(tg.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		seeds := tg.seeds(t)
		names := map[string]bool{}
		for _, s := range seeds {
			if names[s.name] || expectedOutcome(s.name) == "" {
				t.Fatalf("%s: seed name %q is duplicate or names no outcome", tg.name, s.name)
			}
			names[s.name] = true
			for i, a := range s.args {
				if reflect.TypeOf(a) != tg.types[i] {
					t.Fatalf("%s/%s: argument %d is %T, want %v", tg.name, s.name, i, a, tg.types[i])
				}
			}
			if err := os.WriteFile(filepath.Join(dir, s.name), marshalCorpus(s.args), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if expectedOutcome(e.Name()) != "" && !names[e.Name()] {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
		t.Logf("%s: %d seeds", tg.name, len(seeds))
	}
}

// marshalCorpus encodes values in the "go test fuzz v1" corpus format.
func marshalCorpus(args []any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	return []byte(b.String())
}

// readCorpusFile parses a corpus file of the given argument types: the
// subset of the format that these targets' types need.
func readCorpusFile(path string, types []reflect.Type) ([]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) == 0 || lines[0] != "go test fuzz v1" {
		return nil, fmt.Errorf("not a go test fuzz v1 file")
	}
	lines = lines[1:]
	if len(lines) != len(types) {
		return nil, fmt.Errorf("%d values, the target takes %d", len(lines), len(types))
	}
	args := make([]any, len(types))
	for i, line := range lines {
		v, err := parseCorpusValue(line, types[i])
		if err != nil {
			return nil, fmt.Errorf("value %d: %v", i, err)
		}
		args[i] = v
	}
	return args, nil
}

func parseCorpusValue(line string, typ reflect.Type) (any, error) {
	expr, err := parser.ParseExpr(line)
	if err != nil {
		return nil, err
	}
	call, ok := expr.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return nil, fmt.Errorf("%q is not a conversion", line)
	}
	arg, neg := call.Args[0], false
	if u, ok := arg.(*ast.UnaryExpr); ok && u.Op == token.SUB {
		arg, neg = u.X, true
	}
	lit, ok := arg.(*ast.BasicLit)
	if !ok {
		return nil, fmt.Errorf("%q has no literal", line)
	}
	if typ == reflect.TypeFor[[]byte]() {
		s, err := strconv.Unquote(lit.Value)
		return []byte(s), err
	}
	val := lit.Value
	if lit.Kind == token.CHAR {
		r, _, _, err := strconv.UnquoteChar(val[1:len(val)-1], '\'')
		if err != nil {
			return nil, err
		}
		val = strconv.Itoa(int(r))
	}
	if neg {
		val = "-" + val
	}
	switch typ.Kind() {
	case reflect.Int64:
		return strconv.ParseInt(val, 0, 64)
	case reflect.Uint64:
		return strconv.ParseUint(val, 0, 64)
	case reflect.Uint8:
		n, err := strconv.ParseUint(val, 0, 8)
		return uint8(n), err
	}
	return nil, fmt.Errorf("unsupported type %v", typ)
}
