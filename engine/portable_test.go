package engine

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Stores written on one architecture must open on every other: the files
// are little-endian field by field and never depend on the word size.
// testdata/portable/<GOARCH>/{clean,crashed} are stores written by
// TestWritePortableFixtures on each architecture (natively, and under qemu
// for arm64 and arm):
//
//	go test ./engine -run TestWritePortableFixtures -portable.write
//	GOARCH=arm64 go test ./engine -run TestWritePortableFixtures -portable.write
//	GOARCH=arm GOARM=7 go test ./engine -run TestWritePortableFixtures -portable.write

var flagWritePortable = flag.Bool("portable.write", false, "write this architecture's fixture stores into testdata/portable")

const portableRoot = "testdata/portable"

// portableStream is the content of stream i of a fixture store: versions
// 0..n-1, each event's data a function of (i, version).
func portableEvent(i int, v int64) Event {
	data := bytes.Repeat([]byte(fmt.Sprintf("s%d-v%d|", i, v)), 1+int(v)%40)
	return Event{Type: fmt.Sprintf("type-%d", i%3), Data: data, Metadata: []byte(fmt.Sprintf("m%d", v))}
}

const (
	portableStreams = 7
	portableEvents  = 60 // per stream; with 64 KiB segments the log rolls
)

func portableOptions() *Options { return &Options{SegmentSize: 64 << 10, IndexSlots: 16} }

func writePortableStore(t *testing.T, dir string, crash bool) {
	s := openT(t, dir, portableOptions())
	for v := int64(0); v < portableEvents; v += 3 {
		for i := range portableStreams {
			appendT(t, s, fmt.Sprintf("portable/%d", i), v-1, portableEvent(i, v), portableEvent(i, v+1), portableEvent(i, v+2))
		}
	}
	if crash {
		s.crashForTest() // the index stays dirty: Open must recover
		return
	}
	closeT(t, s)
}

func TestWritePortableFixtures(t *testing.T) {
	if !*flagWritePortable {
		t.Skip("writes fixtures only with -portable.write")
	}
	for _, kind := range []string{"clean", "crashed"} {
		dir := filepath.Join(portableRoot, runtime.GOARCH, kind)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writePortableStore(t, dir, kind == "crashed")
		// The lock file and the prepared spare segment carry nothing.
		spares, _ := filepath.Glob(filepath.Join(dir, "spare-*"))
		for _, f := range append(spares, filepath.Join(dir, "LOCK")) {
			_ = os.Remove(f)
		}
	}
}

// TestPortableFixtures opens a copy of every architecture's fixture stores
// and reads them back completely.
func TestPortableFixtures(t *testing.T) {
	arches, err := os.ReadDir(portableRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(arches) < 3 {
		t.Fatalf("fixtures of %d architectures, want amd64, arm64 and arm", len(arches))
	}
	for _, arch := range arches {
		for _, kind := range []string{"clean", "crashed"} {
			t.Run(arch.Name()+"/"+kind, func(t *testing.T) {
				dir := t.TempDir()
				copyTree(t, filepath.Join(portableRoot, arch.Name(), kind), dir)
				s := openT(t, dir, portableOptions())
				defer closeT(t, s)
				rec := s.Recovered()
				if (kind == "clean") != rec.Clean {
					t.Fatalf("written %s on %s, opened as %+v on %s", kind, arch.Name(), rec, runtime.GOARCH)
				}
				for i := range portableStreams {
					name := fmt.Sprintf("portable/%d", i)
					evs := collect(t, s.ReadStream(name, 0, Forward))
					if len(evs) != portableEvents {
						t.Fatalf("%s: %d events, want %d", name, len(evs), portableEvents)
					}
					for v, e := range evs {
						want := portableEvent(i, int64(v))
						if e.Version != int64(v) || e.Type != want.Type || !bytes.Equal(e.Data, want.Data) || !bytes.Equal(e.Metadata, want.Metadata) {
							t.Fatalf("%s@%d differs from what %s wrote", name, v, arch.Name())
						}
					}
				}
				if n := len(collect(t, s.ReadAll(0))); n != portableStreams*portableEvents {
					t.Fatalf("ReadAll: %d events, want %d", n, portableStreams*portableEvents)
				}
			})
		}
	}
}

// copyTree copies the files of src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err == nil {
			_, err = io.Copy(out, in)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
