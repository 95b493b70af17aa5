package main

import (
	"fmt"
	"io"

	"github.com/spooldb/spool/bench"
)

// runBenchCompare is `spool bench compare A.json B.json`: two reports
// written by `spool bench --json`, side by side.
func runBenchCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench compare", "A.json B.json", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return fmt.Errorf("%w: compare wants two report files, got %d", errUsage, len(pos))
	}
	a, err := bench.LoadReport(pos[0])
	if err != nil {
		return err
	}
	b, err := bench.LoadReport(pos[1])
	if err != nil {
		return err
	}
	return bench.WriteComparison(stdout, pos[0], a, pos[1], b)
}
