package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"iter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spooldb/spool/engine"
)

func runDump(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dump", "DIR [--stream S] [--from POS] [--limit N] [--backward]", stderr)
	var (
		stream   = fs.String("stream", "", "read only this stream (default: the whole log in commit order)")
		from     = fs.Int64("from", 0, "start: a log position for the whole log, a version for --stream (-1 with --backward: newest)")
		limit    = fs.Int64("limit", 0, "print at most this many events (0: all)")
		backward = fs.Bool("backward", false, "with --stream, read newest first")
	)
	dir, err := parseDirArg(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["stream"] && *stream == "":
		return fmt.Errorf("%w: --stream needs a stream ID", errUsage)
	case *backward && *stream == "":
		return fmt.Errorf("%w: --backward needs --stream", errUsage)
	case *limit < 0:
		return fmt.Errorf("%w: --limit %d (0 means all)", errUsage, *limit)
	}
	fromSet := set["from"]
	if *stream == "" && *from < 0 {
		return fmt.Errorf("%w: --from must be a log position (>= 0)", errUsage)
	}
	s, err := openExisting(dir)
	if err != nil {
		return err
	}
	defer s.Close()

	var events iter.Seq2[engine.RecordedEvent, error]
	switch {
	case *stream == "":
		events = s.ReadAll(uint64(*from))
	case *backward:
		start := *from
		if !fromSet {
			start = engine.End
		}
		events = s.ReadStream(*stream, start, engine.Backward)
	default:
		events = s.ReadStream(*stream, *from, engine.Forward)
	}

	w := bufio.NewWriter(stdout)
	defer w.Flush()
	header := func() { fmt.Fprintln(w, "position\tstream\tversion\ttime\ttype\tdata") }
	var n int64
	for ev, err := range events {
		if err != nil {
			w.Flush()
			return err
		}
		if *limit > 0 && n >= *limit {
			break
		}
		if n == 0 {
			header()
		}
		n++
		fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s", ev.Position, ev.Stream, ev.Version,
			ev.Time.UTC().Format(time.RFC3339Nano), ev.Type, printable(ev.Data))
		if len(ev.Metadata) > 0 {
			fmt.Fprintf(w, "\tmeta=%s", printable(ev.Metadata))
		}
		if ev.ID != ([16]byte{}) {
			fmt.Fprintf(w, "\tid=%x", ev.ID)
		}
		fmt.Fprintln(w)
	}
	if n == 0 && *stream != "" {
		// Nothing to print: say whether the stream has events at all,
		// as a misspelt stream ID is the likelier cause.
		v, err := s.StreamVersion(*stream)
		if err == nil && v == engine.NoStream {
			err = fmt.Errorf("stream %q has no events (it does not exist or was deleted)", *stream)
		}
		if err != nil {
			return err
		}
	}
	if n == 0 {
		header()
	}
	return w.Flush()
}

// printable returns b as text when it is valid UTF-8 made of printable
// characters (spaces included), else as "hex:" and its hex digits.
func printable(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	if utf8.Valid(b) {
		ok := true
		for _, r := range string(b) {
			if !unicode.IsPrint(r) && r != ' ' {
				ok = false
				break
			}
		}
		if ok {
			return string(b)
		}
	}
	return "hex:" + hex.EncodeToString(b)
}
