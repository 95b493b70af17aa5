// Package kill tests Spool against real process deaths: a child process
// appends events and reports every acknowledgement over a pipe; the parent
// kills it with SIGKILL at a random moment (also while it is still opening
// and recovering the store), reopens the store and checks every
// acknowledged event against its model.
//
// Event contents are a pure function of (stream, version), so every event
// found after a crash — acknowledged or not — can be checked byte for
// byte: nothing unissued or corrupt may come back, and a batch comes back
// whole or not at all. Each cycle alternates durability modes: a process
// crash leaves the page cache intact, so even NoSync acknowledgements must
// survive it.
//
//	go test ./fuzz/kill -kill.cycles=200 -kill.seed=N
//
// A failure prints the seed and the cycle; the same seed replays the same
// kill schedule (the moment a kill lands inside the child is up to the
// scheduler, so a replay is close, not exact).
//
// The test skips itself under user-mode emulation (qemu-user), where
// starting a child process can hang; see TestSIGKILL.
package kill
