package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spooldb/spool/bench"
)

// columnsFact explains the table's columns in every report header.
const columnsFact = "latency per call (W2: per stream, W4: per Open, S1: from ack to subscriber delivery); x raw = events/s over raw-pre with the same C; dev B/B = device bytes written / record bytes committed (engine: spare segments prepared during the run included; raw-pre: preallocation before the run excluded)"

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return runBenchCompare(args[1:], stdout, stderr)
	}
	br, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg := br.cfg

	// SIGTERM and SIGHUP too (timeout, kill, a closed terminal, CI): the
	// run must stop and remove its temporary directory, which holds
	// hundreds of megabytes.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// Measured before the run: the facts describe the machine as the run
	// found it, and the bench directory exists now.
	machine := bench.Measure(cfg.Dir)
	start := time.Now()
	var (
		all    [][]bench.Result
		runErr error
	)
	for i := range br.rounds {
		fmt.Fprintf(stderr, "round %d/%d\n", i+1, br.rounds)
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
	wall := time.Since(start)

	facts := append(machine.Facts(), cfg.Facts()...)
	sizes := "default sizes"
	if br.small {
		sizes = "--small sizes"
	}
	facts = append(facts,
		bench.Fact{Name: "spool", Value: spoolVersion()},
		bench.Fact{Name: "run", Value: fmt.Sprintf("%s, %d round(s), %s, %s", start.Format(time.RFC3339), br.rounds, wall.Round(time.Second), sizes)},
		bench.Fact{Name: "columns", Value: columnsFact},
	)
	rep := bench.NewReport(machine, facts, cfg.JSON(br.small), start, wall, all)
	rep.SpoolVersion = spoolVersion()
	if runErr != nil {
		rep.Incomplete = runErr.Error()
	}
	if err := writeBenchText(stdout, rep); err != nil {
		return err
	}
	// The files are written even for an incomplete run: what was measured
	// is kept, and the report says it is incomplete.
	if br.jsonPath != "" {
		if err := rep.SaveJSON(br.jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", br.jsonPath)
	}
	if br.reportDir != "" {
		files, err := bench.WriteHTMLReport(br.reportDir, rep)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s (%d files)\n", files[len(files)-1], len(files))
	}
	return runErr
}

// writeBenchText prints the header and the table.
func writeBenchText(w io.Writer, rep *bench.Report) error {
	if err := bench.WriteHeader(w, rep.Facts); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := bench.WriteTable(w, rep.Rows()); err != nil {
		return err
	}
	if rep.Incomplete != "" {
		fmt.Fprintf(w, "\nINCOMPLETE: %s\n", rep.Incomplete)
	}
	return nil
}
