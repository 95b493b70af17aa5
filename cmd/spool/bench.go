package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spooldb/spool/bench"
	"github.com/spooldb/spool/engine"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "[flags]", stderr)
	var (
		dir       = fs.String("dir", os.TempDir(), "parent `directory` of the temporary bench directory (removed afterwards)")
		events    = fs.Int("events", bench.DefaultEvents, "events per append run (W1 C>1, W1b, W1c, S1, S2)")
		single    = fs.Int("single-events", bench.DefaultEventsSingle, "events of W1 with one writer (at most --events)")
		writers   = fs.String("writers", "1,16,256", "writer counts of W1 (durable) and its raw baseline")
		nosync    = fs.String("nosync-writers", "1,16", "writer counts of W1c (NoSync)")
		only      = fs.String("only", "", "comma-separated workloads to run: "+strings.Join(bench.Workloads, ",")+" (W2-W5 imply L)")
		segSize   = fs.String("segment-size", "", "segment size, e.g. 64MiB (default: engine default)")
		prep      = fs.String("prep", "zero-fill", "segment preparation: zero-fill or fallocate")
		durCap    = fs.Duration("duration-cap", bench.DefaultDurationCap, "stop each append run after this long")
		rounds    = fs.Int("rounds", 1, "rounds of the whole suite; the table shows medians and spread")
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
	)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	cfg := bench.Config{
		Dir:           *dir,
		Only:          parseList(*only),
		NoRaw:         *noRaw,
		Events:        *events,
		EventsSingle:  *single,
		Streams:       *streams,
		Batch:         *batch,
		FollowWriters: *followW,
		Subscribers:   *subs,
		Reads:         *reads,
		Opens:         *opens,
		DurationCap:   *durCap,
		Settle:        *settle,
	}
	if cfg.Settle == 0 {
		cfg.Settle = -1
	}
	if cfg.Writers, err = parseInts(*writers); err != nil {
		return err
	}
	if cfg.NoSyncWriters, err = parseInts(*nosync); err != nil {
		return err
	}
	if _, err := fmt.Sscanf(*load, "%dx%d", &cfg.LoadStreams, &cfg.LoadPerStream); err != nil || cfg.LoadStreams < 1 || cfg.LoadPerStream < 1 {
		return fmt.Errorf("%w: bad --load %q (want STREAMSxEVENTS)", errUsage, *load)
	}
	if *segSize != "" {
		if cfg.Options.SegmentSize, err = parseSize(*segSize); err != nil {
			return err
		}
	}
	if err := bench.SetPrep(&cfg.Options, *prep); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg.Options.IndexSlots = *indexSize
	switch *writes {
	case "staged":
	case "mapped":
		cfg.Options.MappedWrites = true
	default:
		return fmt.Errorf("%w: unknown --writes %q (staged or mapped)", errUsage, *writes)
	}
	if *rounds < 1 {
		return fmt.Errorf("%w: --rounds must be at least 1", errUsage)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if st, err := os.Stat(cfg.Dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--dir %s: not a directory", cfg.Dir)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	var (
		all    [][]bench.Result
		runErr error
	)
	for i := range *rounds {
		fmt.Fprintf(stderr, "round %d/%d\n", i+1, *rounds)
		rows, err := bench.Run(ctx, cfg, stderr)
		if len(rows) > 0 {
			all = append(all, rows)
		}
		if err != nil {
			// Print what was measured, then fail.
			runErr = fmt.Errorf("round %d: %w", i+1, err)
			break
		}
	}
	if len(all) == 0 {
		return runErr
	}

	full := cfg.WithDefaults()
	base := full.Options
	base.Durability = engine.SyncEachCommit
	facts := bench.Environment(cfg.Dir)
	facts = append(facts,
		bench.Fact{Name: "engine", Value: base.String() + " (W1c: NoSync; L: NoSync + Sync)"},
		bench.Fact{Name: "workloads", Value: fmt.Sprintf("W1 C=%v (C=1: %d events, else %d), W1b batch=%d, W1c C=%v, %d streams; S1/S2 C=%d, S2 %d subscribers; L %dx%d b=%d; W2 %d reads/dir; W4 %d opens; cap %v",
			full.Writers, full.EventsSingle, full.Events, full.Batch, full.NoSyncWriters, full.Streams, full.FollowWriters, full.Subscribers,
			full.LoadStreams, full.LoadPerStream, full.LoadBatch, full.Reads, full.Opens, full.DurationCap)},
		bench.Fact{Name: "payload", Value: fmt.Sprintf("%d-byte JSON events of type %q; raw-pre records %d bytes", bench.PayloadSize, bench.EventType, full.RawRecordSize)},
		bench.Fact{Name: "run", Value: fmt.Sprintf("%s, %d round(s), %s", start.Format(time.RFC3339), *rounds, time.Since(start).Round(time.Second))},
		bench.Fact{Name: "columns", Value: "latency per call (W2: per stream, W4: per Open, S1: from ack to subscriber delivery); x raw = events/s over raw-pre with the same C; dev B/B = device bytes written / record bytes committed (engine: spare segments prepared during the run included; raw-pre: preallocation before the run excluded)"},
	)
	if err := bench.WriteHeader(stdout, facts); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := bench.WriteTable(stdout, bench.Summarize(all)); err != nil {
		return err
	}
	if runErr != nil {
		fmt.Fprintf(stdout, "\nINCOMPLETE: %v\n", runErr)
	}
	return runErr
}
