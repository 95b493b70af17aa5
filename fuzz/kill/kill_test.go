package kill

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spooldb/spool/engine"
)

var (
	flagCycles = flag.Int("kill.cycles", 40, "SIGKILL cycles")
	flagSoak   = flag.Duration("kill.soak", 0, "run kill cycles for this long instead of -kill.cycles of them")
	flagSeed   = flag.Uint64("kill.seed", 0, "seed of the kill schedule (0: from the clock)")
)

func TestMain(m *testing.M) {
	if os.Getenv(envDir) != "" {
		runChild()
		return
	}
	os.Exit(m.Run())
}

// model is what the children acknowledged: per stream, the newest
// acknowledged version (-1: none).
type model struct {
	acked [streamCount]int64
	acks  int // acknowledgements received
}

// TestSIGKILL runs the kill cycles over one store directory.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	// qemu-user 7.2 (Debian 12's) emulates the clone of a multi-threaded
	// process as a fork, and the child can deadlock inside the emulator
	// before it reaches exec: the parent then waits in exec.Cmd.Start
	// forever. CI's armv7 run hung there for ten minutes. What this test
	// checks (a real process killed at any instruction) does not depend on
	// the instruction set: CI runs its SIGKILL cycles natively, and the
	// simulated power-loss crash tests run under qemu too.
	if emulated, machine, kernel := emulatedMachine(); emulated {
		t.Skipf("runs natively only: this is a %s process under emulation on a %s kernel, where starting a child can hang", machine, kernel)
	}
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./fuzz/kill -run TestSIGKILL -kill.seed=%d -kill.cycles=%d)", seed, seed, *flagCycles)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	var m model
	for i := range m.acked {
		m.acked[i] = -1
	}
	var stats cycleStats
	cycles := *flagCycles
	deadline := time.Time{}
	if *flagSoak > 0 {
		cycles, deadline = math.MaxInt, time.Now().Add(*flagSoak)
	}
	done := 0
	for cycle := range cycles {
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		done++
		mode := engine.SyncEachCommit
		if cycle%3 == 2 {
			mode = engine.NoSync
		}
		if err := runCycle(dir, mode, rng, &m, &stats); err != nil {
			t.Fatalf("seed %d, cycle %d (%v): %v", seed, cycle, mode, err)
		}
		if err := verify(dir, &m, &stats); err != nil {
			t.Fatalf("seed %d, after cycle %d (%v): %v", seed, cycle, mode, err)
		}
	}
	t.Logf("%d SIGKILL cycles (%d during open/recovery): %d acknowledged appends, %d events checked, %d recoveries cut a torn tail, lost 0, corrupt returned 0",
		done, stats.earlyKills, m.acks, stats.checked, stats.torn)
	if m.acks == 0 {
		t.Fatal("no append was ever acknowledged: the cycles tested nothing")
	}
}

type cycleStats struct {
	earlyKills int   // kills before the child reported its store open
	checked    int64 // events read back and checked
	torn       int   // recoveries that cut bytes
}

// runCycle starts a child, reads its acknowledgements into m until a
// random moment, and kills it.
func runCycle(dir string, mode engine.Durability, rng *rand.Rand, m *model, st *cycleStats) error {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envDir+"="+dir, fmt.Sprintf("%s=%d", envMode, mode), fmt.Sprintf("%s=%d", envSeed, rng.Uint64()))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// Kill after a random number of acknowledgements, or — one cycle in
	// eight — after a random short time, often while Open still recovers.
	killAfter := 1 + rng.IntN(400)
	var timer *time.Timer
	if rng.IntN(8) == 0 {
		timer = time.AfterFunc(time.Duration(rng.IntN(20_000))*time.Microsecond, func() { _ = cmd.Process.Kill() })
		killAfter = -1
	}
	lines := bufio.NewReader(out)
	opened, acks := false, 0
	var childErr error
	for {
		line, err := lines.ReadString('\n')
		if err != nil {
			if err != io.EOF {
				childErr = err
			}
			break // killed: a partial last line was never a whole acknowledgement
		}
		switch {
		case line == "o\n":
			opened = true
		case strings.HasPrefix(line, "a "):
			var i int
			var first, last int64
			if _, err := fmt.Sscanf(line, "a %d %d %d\n", &i, &first, &last); err != nil || i < 0 || i >= streamCount {
				childErr = fmt.Errorf("bad line %q", line)
			} else {
				m.acked[i] = max(m.acked[i], last)
				m.acks++
				acks++
			}
		case strings.HasPrefix(line, "e "):
			childErr = fmt.Errorf("child: %s", strings.TrimSpace(line[2:]))
		}
		if childErr != nil || acks == killAfter {
			_ = cmd.Process.Kill()
		}
	}
	if timer != nil {
		timer.Stop()
	}
	_ = cmd.Process.Kill()
	werr := cmd.Wait()
	if childErr != nil {
		return childErr
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("child ended otherwise than by SIGKILL: %v", werr)
	}
	if !opened {
		st.earlyKills++
	}
	return nil
}

// verify opens the store after a kill and checks it against m: every
// acknowledged event is there, byte for byte; every event there is one a
// child issued, with its whole batch; ReadAll agrees with the streams.
func verify(dir string, m *model, st *cycleStats) error {
	s, err := engine.Open(dir, storeOptions(engine.SyncEachCommit))
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	if s.Recovered().TornBytes > 0 {
		st.torn++
	}
	lens := make(map[string]int64, streamCount)
	var total int64
	for i := range streamCount {
		name := streamName(i)
		var n int64
		for ev, err := range s.ReadStream(name, 0, engine.Forward) {
			if err == nil {
				err = checkEvent(name, n, ev)
			}
			if err != nil {
				s.Close()
				return fmt.Errorf("read %s: %w", name, err)
			}
			n++
		}
		if n-1 < m.acked[i] {
			s.Close()
			return fmt.Errorf("%s: %d events after recovery, but version %d was acknowledged (lost)", name, n, m.acked[i])
		}
		v, err := s.StreamVersion(name)
		if err != nil || v != n-1 {
			s.Close()
			return fmt.Errorf("%s: StreamVersion %d (%v), but %d events read", name, v, err, n)
		}
		lens[name] = n
		total += n
		st.checked += n
	}
	// Batches whole, and the log agrees with the streams, in order.
	var all int64
	seen := make(map[string]int64, streamCount)
	for ev, err := range s.ReadAll(0) {
		if err != nil {
			s.Close()
			return fmt.Errorf("ReadAll after %d events: %w", all, err)
		}
		if err := checkEvent(ev.Stream, ev.Version, ev); err != nil {
			s.Close()
			return fmt.Errorf("ReadAll: %w", err)
		}
		if _, last, _ := parseBatchMeta(ev.Metadata); last >= lens[ev.Stream] {
			s.Close()
			return fmt.Errorf("%s@%d: its batch ends at version %d but the stream ends at %d (torn batch)",
				ev.Stream, ev.Version, last, lens[ev.Stream]-1)
		}
		if ev.Version != seen[ev.Stream] {
			s.Close()
			return fmt.Errorf("ReadAll: %s@%d after %d earlier events of the stream", ev.Stream, ev.Version, seen[ev.Stream])
		}
		seen[ev.Stream]++
		all++
	}
	if all != total {
		s.Close()
		return fmt.Errorf("ReadAll returned %d events, the streams hold %d", all, total)
	}
	return s.Close()
}
