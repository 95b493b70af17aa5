package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spooldb/spool/bench"
)

func runStat(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("stat", "DIR [--count]", stderr)
	count := fs.Bool("count", false, "also scan the whole log and count events and bytes")
	dir, err := parseDirArg(fs, args)
	if err != nil {
		return err
	}
	before, err := storeFiles(dir)
	if err != nil {
		return err
	}
	s, err := openExisting(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	st := s.Stats()
	rec := s.Recovered()

	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "store:\t%s\n", dir)
	fmt.Fprintf(w, "open:\t%s\n", bench.FormatDuration(s.OpenDuration()))
	if rec.Clean {
		fmt.Fprintf(w, "recovery:\tnone (clean close; index reused)\n")
	} else {
		how := "index rebuilt from the whole log"
		if rec.ReplayedIndex {
			how = "index replayed from its checkpoint"
		}
		fmt.Fprintf(w, "recovery:\t%s: %d records scanned, %d streams; %d torn bytes cut; %d empty segments removed\n",
			how, rec.Records, rec.Streams, rec.TornBytes, rec.RemovedSegments)
	}
	fmt.Fprintf(w, "streams:\t%d\n", st.Streams)
	if st.DamagedStreams > 0 {
		fmt.Fprintf(w, "damaged streams:\t%d, unreadable (system record damaged; e.g. %v)\n", st.DamagedStreams, st.DamagedStreamError)
	}
	if st.IndexSlots > 0 {
		// The index doubles at 3/4 full, and prepares the doubled file in
		// the background from 1/2 on.
		fmt.Fprintf(w, "index:\t%d slots, %.0f%% full (grows at 75%%)\n", st.IndexSlots, 100*float64(st.Streams)/float64(st.IndexSlots))
	}
	fmt.Fprintf(w, "segments:\t%d\n", st.Segments)
	fmt.Fprintf(w, "committed position:\t%d (%s)\n", st.CommittedPosition, humanBytes(int64(st.CommittedPosition)))
	fmt.Fprintf(w, "log end:\t%d\n", rec.LogEnd)
	if *count {
		start := time.Now()
		var events, data, meta int64
		types := map[string]int64{}
		for ev, err := range s.ReadAll(0) {
			if err != nil {
				w.Flush()
				return fmt.Errorf("scan: %w", err)
			}
			events++
			data += int64(len(ev.Data))
			meta += int64(len(ev.Metadata))
			types[ev.Type]++
		}
		fmt.Fprintf(w, "events:\t%d (scanned in %s)\n", events, bench.FormatDuration(time.Since(start)))
		fmt.Fprintf(w, "data bytes:\t%d (%s), metadata bytes %d\n", data, humanBytes(data), meta)
		var ts []string
		for t, n := range types {
			ts = append(ts, fmt.Sprintf("%q: %d", t, n))
		}
		if len(ts) <= 20 {
			fmt.Fprintf(w, "event types:\t%s\n", strings.Join(slices.Sorted(slices.Values(ts)), ", "))
		} else {
			fmt.Fprintf(w, "event types:\t%d distinct\n", len(ts))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\nfiles (before open):")
	w = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	var total int64
	for _, f := range before {
		what := ""
		if f.segment {
			what = fmt.Sprintf("segment, base position %d", f.base)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t\n", f.name, f.size, what)
		total += f.size
	}
	fmt.Fprintf(w, "total\t%d\t%s\t\n", total, humanBytes(total))
	return w.Flush()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
