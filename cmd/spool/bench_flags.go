package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spooldb/spool/bench"
)

// benchRun is what `spool bench` was asked to do.
type benchRun struct {
	cfg       bench.Config
	small     bool
	rounds    int
	jsonPath  string // --json: write the report as JSON here ("" = no)
	reportDir string // --report: write an HTML report here ("" = no)
}

// smallHelp describes --small from bench.SmallConfig itself, so the help
// cannot drift from what the flag does.
func smallHelp() string {
	s := bench.SmallConfig()
	return fmt.Sprintf("sizes for a small board (at most %d GiB of disk, %d MiB of RAM): --events %d --single-events %d --writers %s --nosync-writers %s --streams %d --subscribers %d --load %dx%d --reads %d --segment-size %dMiB; flags given explicitly win",
		bench.SmallDiskBudget>>30, bench.SmallRAMBudget>>20, s.Events, s.EventsSingle, joinInts(s.Writers), joinInts(s.NoSyncWriters),
		s.Streams, s.Subscribers, s.LoadStreams, s.LoadPerStream, s.Reads, s.Options.SegmentSize>>20)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// parseBenchFlags reads `spool bench`'s flags into a validated run.
func parseBenchFlags(args []string, stderr io.Writer) (benchRun, error) {
	fs := newFlags("bench", "[flags]\n       spool bench compare A.json B.json", stderr)
	var (
		dir       = fs.String("dir", os.TempDir(), "parent `directory` of the temporary bench directory (removed afterwards)")
		small     = fs.Bool("small", false, smallHelp())
		events    = fs.Int("events", bench.DefaultEvents, "events per append run (W1 C>1, W1b, W1c, S1, S2)")
		single    = fs.Int("single-events", bench.DefaultEventsSingle, "events of W1 with one writer (at most --events)")
		writers   = fs.String("writers", "1,16,256", "writer counts of W1 (durable) and its raw baseline")
		nosync    = fs.String("nosync-writers", "1,16", "writer counts of W1c (NoSync)")
		only      = fs.String("only", "", "comma-separated workloads to run: "+strings.Join(bench.Workloads, ",")+" (W2-W5 imply L)")
		segSize   = fs.String("segment-size", "", "segment size, e.g. 64MiB (default: engine default)")
		prep      = fs.String("prep", "zero-fill", "segment preparation: zero-fill or fallocate")
		durCap    = fs.Duration("duration-cap", bench.DefaultDurationCap, "stop each append run after this long")
		rounds    = fs.Int("rounds", 1, "rounds of the whole suite; the table shows medians and spread (compare needs 2+ per side to tell noise)")
		load      = fs.String("load", fmt.Sprintf("%dx%d", bench.DefaultLoadStreams, bench.DefaultLoadPerStream), "L store: streams x events per stream")
		batch     = fs.Int("batch", bench.DefaultBatch, "events per Append in W1b")
		streams   = fs.Int("streams", bench.DefaultStreams, "streams W1/W1b/W1c write to")
		reads     = fs.Int("reads", bench.DefaultReads, "W2: random whole-stream reads per direction")
		opens     = fs.Int("opens", bench.DefaultOpens, "W4, W5: opens timed")
		settle    = fs.Duration("settle", bench.DefaultSettle, "wait at most this long for a quiet device before each workload (0: no wait)")
		noRaw     = fs.Bool("no-raw", false, "skip the raw group-commit baseline")
		writes    = fs.String("writes", "staged", "how durable appends write records: staged (one pwrite per commit) or mapped (stores through the mapping)")
		followW   = fs.Int("follow-writers", bench.DefaultFollowWriters, "durable writers of S1 and S2")
		subs      = fs.Int("subscribers", bench.DefaultSubscribers, "live subscribers of S2")
		indexSize = fs.Uint64("index-slots", 0, "initial index slots (default: engine default)")
		jsonPath  = fs.String("json", "", "also write the results as JSON to `file` (schema: go doc ./bench, \"JSON reports\")")
		reportDir = fs.String("report", "", "also write an HTML report with SVG charts into `directory` (index.html, *.svg, report.json)")
	)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return benchRun{}, err
	}
	if len(pos) > 0 {
		return benchRun{}, fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// Without --small every flag's value applies (its default is the
	// suite's); with it, only the flags given explicitly override the
	// small sizes.
	use := func(name string) bool { return !*small || set[name] }

	cfg := bench.Config{}
	if *small {
		cfg = bench.SmallConfig()
	}
	cfg.Dir, cfg.Only, cfg.NoRaw = *dir, parseList(*only), *noRaw
	if strings.TrimSpace(*only) != "" && len(cfg.Only) == 0 {
		// An empty list means the whole suite: not what "--only ,," asks.
		return benchRun{}, fmt.Errorf("%w: --only %q names no workload", errUsage, *only)
	}
	for _, f := range []struct {
		name string
		dst  *int
		v    int
	}{
		{"events", &cfg.Events, *events}, {"single-events", &cfg.EventsSingle, *single},
		{"streams", &cfg.Streams, *streams}, {"batch", &cfg.Batch, *batch},
		{"follow-writers", &cfg.FollowWriters, *followW}, {"subscribers", &cfg.Subscribers, *subs},
		{"reads", &cfg.Reads, *reads}, {"opens", &cfg.Opens, *opens},
	} {
		if set[f.name] && f.v < 1 {
			// Zero would mean "the default" to bench.Config.
			return benchRun{}, fmt.Errorf("%w: --%s %d (at least 1)", errUsage, f.name, f.v)
		}
		if use(f.name) {
			*f.dst = f.v
		}
	}
	if set["duration-cap"] && *durCap <= 0 {
		return benchRun{}, fmt.Errorf("%w: --duration-cap %v (must be positive)", errUsage, *durCap)
	}
	if use("duration-cap") {
		cfg.DurationCap = *durCap
	}
	cfg.Settle = *settle
	if cfg.Settle == 0 {
		cfg.Settle = -1
	}
	if use("writers") {
		if cfg.Writers, err = parseInts(*writers); err != nil {
			return benchRun{}, err
		}
	}
	if use("nosync-writers") {
		if cfg.NoSyncWriters, err = parseInts(*nosync); err != nil {
			return benchRun{}, err
		}
	}
	if use("load") {
		if cfg.LoadStreams, cfg.LoadPerStream, err = bench.ParseLoad(*load); err != nil {
			return benchRun{}, fmt.Errorf("%w: --load: %w", errUsage, err)
		}
	}
	if *segSize != "" {
		if cfg.Options.SegmentSize, err = parseSize(*segSize); err != nil {
			return benchRun{}, err
		}
	}
	if err := bench.SetPrep(&cfg.Options, *prep); err != nil {
		return benchRun{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	cfg.Options.IndexSlots = *indexSize
	switch *writes {
	case "staged":
	case "mapped":
		cfg.Options.MappedWrites = true
	default:
		return benchRun{}, fmt.Errorf("%w: unknown --writes %q (staged or mapped)", errUsage, *writes)
	}
	if *rounds < 1 {
		return benchRun{}, fmt.Errorf("%w: --rounds must be at least 1", errUsage)
	}
	if err := cfg.Validate(); err != nil {
		return benchRun{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	if st, err := os.Stat(cfg.Dir); err != nil || !st.IsDir() {
		return benchRun{}, fmt.Errorf("--dir %s: not a directory", cfg.Dir)
	}
	// Fail before a long run, not after it, when the results cannot be
	// written.
	if *jsonPath != "" {
		if err := writable(*jsonPath); err != nil {
			return benchRun{}, fmt.Errorf("%w: --json %s: %w", errUsage, *jsonPath, err)
		}
	}
	if *reportDir != "" {
		if err := os.MkdirAll(*reportDir, 0o755); err != nil {
			return benchRun{}, fmt.Errorf("--report: %w", err)
		}
	}
	return benchRun{cfg: cfg, small: *small, rounds: *rounds, jsonPath: *jsonPath, reportDir: *reportDir}, nil
}

// writable reports why a file cannot be written at path (nil when it
// can): path is a directory, or its directory is missing or refuses a new
// file. It leaves nothing behind.
func writable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".spool-bench-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write into %s: %w", filepath.Dir(path), err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
