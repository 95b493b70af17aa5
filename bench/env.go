package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// Fact is one line of a report header.
type Fact struct{ Name, Value string }

// Environment describes the machine and the file system a run measures:
// platform, Go version, CPU, cores, kernel, the file system of dir with its
// mount options, and the block device behind it where visible.
func Environment(dir string) []Fact {
	facts := []Fact{
		{"platform", runtime.GOOS + "/" + runtime.GOARCH},
		{"go", runtime.Version()},
		{"cpu", cpuModel()},
		{"cores", fmt.Sprintf("%d (GOMAXPROCS %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0))},
		{"kernel", kernel()},
	}
	facts = append(facts, storageFacts(dir)...)
	return facts
}

// WriteHeader prints facts as "# name: value" lines.
func WriteHeader(w io.Writer, facts []Fact) error {
	var b strings.Builder
	for _, f := range facts {
		fmt.Fprintf(&b, "# %-10s %s\n", f.Name+":", f.Value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Model", "Hardware", "cpu model":
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return "unknown"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
