//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBenchTermRemovesItsDirectory: spool bench stopped by SIGTERM (timeout,
// kill, docker stop, a cancelled CI job) left its temporary directory
// behind, hundreds of megabytes at the default sizes: only Ctrl-C was
// caught. The test runs the bench in a child process (this test binary)
// and sends SIGTERM once the directory exists.
func TestBenchTermRemovesItsDirectory(t *testing.T) {
	if args := os.Getenv("SPOOL_TEST_BENCH_CHILD"); args != "" {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchTermRemovesItsDirectory$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SPOOL_TEST_BENCH_CHILD=bench --dir "+dir+
		" --only W1 --writers 1 --single-events 1000000 --no-raw --settle 0 --rounds 1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	running := func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "spool-bench-*", "*"))
		return len(m) > 0 // the run's store exists
	}
	for deadline := time.Now().Add(60 * time.Second); !running(); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the bench ended before the signal: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the bench never started its run")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the bench did not stop within 60 s of SIGTERM")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "spool-bench-*")); len(left) != 0 {
		t.Fatalf("SIGTERM left %v behind", left)
	}
}
