package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/recovery"
)

// maxCuts bounds the cuts of one "recover --truncate": each cut ends the
// log strictly earlier, but an Open that keeps failing must not loop.
const maxCuts = 16

func runRecover(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("recover", "DIR [--truncate]", stderr)
	truncate := fs.Bool("truncate", false, "cut the log at damage below acknowledged data (the damaged segment is copied aside first), and rebuild a damaged index")
	dir, err := parseDirArg(fs, args)
	if err != nil {
		return err
	}
	var cuts []recovery.TruncatePlan
	for {
		s, err := openExisting(dir)
		if err == nil {
			rec := s.Recovered()
			if err := s.Close(); err != nil {
				return err
			}
			if err := recovery.CheckIndex(dir); err != nil {
				return recoverIndex(dir, err, *truncate, stdout)
			}
			printOpened(stdout, rec, len(cuts) > 0)
			return nil
		}
		var ce *engine.CorruptionError
		if !errors.As(err, &ce) {
			return err
		}
		fmt.Fprintf(stdout, "open fails: %v\n", err)
		if !*truncate {
			plan, perr := recovery.PlanTruncate(dir, ce.Segment, ce.Offset)
			if perr != nil {
				return fmt.Errorf("cannot plan a cut: %w", perr)
			}
			printPlan(stdout, plan, false)
			fmt.Fprintln(stdout, "nothing changed; run again with --truncate to cut the log there (more damage further back may show after)")
			return errors.New("the store does not open: acknowledged data is damaged")
		}
		if len(cuts) == maxCuts {
			return fmt.Errorf("the store still does not open after %d cuts", maxCuts)
		}
		plan, terr := recovery.Truncate(dir, ce.Segment, ce.Offset)
		if terr != nil {
			return fmt.Errorf("cut failed: %w", terr)
		}
		if n := len(cuts); n > 0 && plan.Position >= cuts[n-1].Position {
			return fmt.Errorf("cut at position %d did not shorten the log (previous cut at %d)", plan.Position, cuts[n-1].Position)
		}
		cuts = append(cuts, plan)
		printPlan(stdout, plan, true)
		if segs, err := segmentFiles(dir); err == nil && len(segs) == 0 {
			// Open would make a new, empty store here: leave that to
			// the user, who has the .broken files to look at first.
			return errors.New("no segment is left: the cuts took the whole log (the .broken files above hold it); the next Open starts an empty store")
		}
	}
}

// recoverIndex handles err, what recovery.CheckIndex found wrong with the
// index of the store in dir, which opens: Open trusts a cleanly closed
// index without reading it, and a damaged slot fails its stream's reads
// and appends at every Open. With fix, a damaged index is removed and the
// store opened again, which rebuilds it from the log.
func recoverIndex(dir string, err error, fix bool, stdout io.Writer) error {
	if !errors.Is(err, recovery.ErrIndexDamaged) {
		return fmt.Errorf("cannot check the index: %w", err)
	}
	fmt.Fprintf(stdout, "%v\n", err)
	if !fix {
		fmt.Fprintln(stdout, "nothing changed; run again with --truncate to rebuild the index from the log (it is derived data: nothing is lost)")
		return errors.New("the index is damaged")
	}
	if err := recovery.RemoveIndex(dir); err != nil {
		return err
	}
	s, err := openExisting(dir)
	if err != nil {
		return err
	}
	rec := s.Recovered()
	fmt.Fprintf(stdout, "index rebuilt from the log: %d streams, log end %d\n", rec.Streams, rec.LogEnd)
	return s.Close()
}

func printPlan(w io.Writer, p recovery.TruncatePlan, done bool) {
	verb, saved := "would end", "would be saved as"
	if done {
		verb, saved = "now ends", "saved as"
	}
	switch {
	case p.Extend:
		fmt.Fprintf(w, "cut: nothing; %s is a compacted segment and ends the log: the segments written after it are missing, and their records with them\n", p.Segment)
	case p.Offset == 0:
		fmt.Fprintf(w, "cut: %s goes whole, as %s; the log %s at position %d\n", p.Segment, p.Whole, verb, p.Position)
	default:
		fmt.Fprintf(w, "cut: %s at offset %d (damage at offset %d): the log %s at position %d\n", p.Segment, p.Offset, p.Damage, verb, p.Position)
	}
	if len(p.Later) > 0 {
		fmt.Fprintf(w, "later segments cut whole: %s\n", strings.Join(p.Later, ", "))
	}
	if p.NewSegment != "" {
		verb := "would start"
		if done {
			verb = "starts"
		}
		fmt.Fprintf(w, "a new empty segment %s (%s) %s the log at position %d\n", p.NewSegment, humanBytes(p.NewSegmentSize), verb, p.Position)
	}
	if p.Extend {
		return
	}
	fmt.Fprintf(w, "lost from the log: %d records that still verify, %d bytes (%s)\n", p.Records, p.Bytes, humanBytes(p.Bytes))
	names := p.Saved
	if !done {
		if p.Offset > 0 {
			names = append(names, p.Segment+recovery.BrokenSuffix)
		}
		for _, n := range p.Later {
			names = append(names, n+recovery.BrokenSuffix)
		}
		if p.Offset == 0 {
			names = append(names, p.Segment+recovery.BrokenSuffix)
		}
	}
	fmt.Fprintf(w, "cut data %s: %s\n", saved, strings.Join(names, ", "))
}

func printOpened(w io.Writer, rec engine.Recovery, cut bool) {
	switch {
	case rec.Clean && !cut:
		fmt.Fprintf(w, "the store opens cleanly (log end %d); nothing to recover. \"spool verify\" checks every record.\n", rec.LogEnd)
	default:
		fmt.Fprintf(w, "the store opens: %d records, %d streams, log end %d; %d torn bytes cut, %d empty segments removed\n",
			rec.Records, rec.Streams, rec.LogEnd, rec.TornBytes, rec.RemovedSegments)
	}
}
