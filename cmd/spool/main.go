// Command spool is Spool's command line: run the benchmark suite, show a
// store's statistics, dump its events.
//
//	spool bench [flags]              run the benchmark suite (W1–W5, S1–S2 and the raw baseline)
//	spool bench compare A.json B.json  compare two --json results side by side
//	spool stat DIR                   open a store and print its statistics
//	spool dump DIR [flags]           print events, from the whole log or one stream
//	spool verify DIR                 check every record, chain and index entry
//	spool recover DIR [--truncate]   open after a crash; cut the log at damage
//	spool compact DIR                reclaim the space of deleted and expired events
//
// stat, dump and compact open the store as an application would: after an
// unclean stop that recovers it, and the index is written back. verify
// changes nothing.
//
// Run "spool <command> -h" for a command's flags. Flags may come before
// or after DIR. Errors (usage errors included) go to standard error and
// exit with status 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"bench", "[flags] | compare A.json B.json", "run the benchmark suite (W1-W6, S1-S2, raw baseline); compare two --json results", runBench},
	{"stat", "DIR", "open the store in DIR and print its statistics", runStat},
	{"dump", "DIR [--stream S] [--from POS] [--limit N]", "print events of the whole log or of one stream", runDump},
	{"verify", "DIR", "check every record, chain and index entry without changing anything", runVerify},
	{"recover", "DIR [--truncate]", "open after a crash; with --truncate, cut the log at damage", runRecover},
	{"compact", "DIR [--min-dead R] [--rate MB/s]", "rewrite sealed segments without deleted and expired events", runCompact},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: spool <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-7s %-44s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `stat, dump and compact open the store as an application would: after an`)
	fmt.Fprintln(w, `unclean stop that recovers it (cuts a torn tail, replays or rebuilds the index) and`)
	fmt.Fprintln(w, `writes the index back; verify changes nothing.`)
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "spool <command> -h" for a command's flags.`)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors caused by the command line itself.
var errUsage = errors.New("usage error")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 1
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		}
		fmt.Fprintf(stderr, "spool %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(stderr, "spool: unknown command %q\n\n", args[0])
	usage(stderr)
	return 1
}
