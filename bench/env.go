package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fact is one line of a report header.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Unknown is what a fact says when the machine does not show it (no
// /proc, no sysfs, a tmpfs or overlay directory, a non-Linux system):
// saying so beats leaving the line out, because a reader comparing two
// reports must see that the fact was not known rather than assume it was
// the same.
const Unknown = "unknown"

// Machine is what a report records about the machine and the file system
// it measured, as fields (for JSON and for comparing reports) and as
// header lines (Facts). Strings are Unknown when not visible.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GOARM      string `json:"goarm,omitempty"` // the GOARM/GOAMD64/… level the binary was built for, when the build info says
	GoVersion  string `json:"go_version"`
	CPUModel   string `json:"cpu_model"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// MemoryBytes is the machine's RAM; 0 when unknown.
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`

	// The file system holding the bench directory.
	FSType       string `json:"fs_type"`
	FSSource     string `json:"fs_source"`
	MountPoint   string `json:"mount_point"`
	MountOptions string `json:"mount_options"`

	// The block device behind it.
	Device       string `json:"device"`        // kernel name, e.g. "nvme0n1p2"
	DeviceNumber string `json:"device_number"` // major:minor, e.g. "259:2"
	Disk         string `json:"disk"`          // the whole disk holding Device
	DeviceModel  string `json:"device_model"`  // sysfs model, or "driver <name>" when the disk shows no model
	// Rotational is "yes", "no" or Unknown (sysfs queue/rotational).
	Rotational string `json:"rotational"`
	Scheduler  string `json:"scheduler"`
	// DeviceErr says why the device is Unknown, when it is.
	DeviceErr string `json:"device_error,omitempty"`
}

// Measure collects the Machine facts for a run in dir.
func Measure(dir string) Machine {
	m := Machine{
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		GOARM:      archLevel(),
		GoVersion:  runtime.Version(),
		CPUModel:   cpuModel(),
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		// Before the fallbacks: /proc/meminfo is the answer on Linux.
		MemoryBytes: memTotal(),
		Kernel:      kernel(),
	}
	sysFacts(&m)
	storageFacts(&m, dir)
	m.fillUnknown()
	return m
}

// fillUnknown sets the string fields nothing filled to Unknown.
func (m *Machine) fillUnknown() {
	for _, p := range []*string{&m.GOOS, &m.GOARCH, &m.GoVersion, &m.CPUModel, &m.Kernel, &m.FSType, &m.FSSource, &m.MountPoint, &m.MountOptions,
		&m.Device, &m.DeviceNumber, &m.Disk, &m.DeviceModel, &m.Rotational, &m.Scheduler} {
		if *p == "" {
			*p = Unknown
		}
	}
}

// Environment describes the machine and the file system a run in dir
// measures, as header lines.
func Environment(dir string) []Fact { return Measure(dir).Facts() }

// Facts prints m as header lines: platform, Go, CPU, cores, memory,
// kernel, file system with mount options, device.
func (m Machine) Facts() []Fact {
	m.fillUnknown() // a Machine decoded from an older or hand-made report may lack fields
	platform := m.GOOS + "/" + m.GOARCH
	if m.GOARM != "" {
		platform += " (" + m.GOARM + ")"
	}
	mem := Unknown
	if m.MemoryBytes > 0 {
		mem = fmt.Sprintf("%.1f GiB", float64(m.MemoryBytes)/(1<<30))
	}
	fs := Unknown
	if m.FSType != Unknown {
		fs = fmt.Sprintf("%s %s on %s (%s)", m.FSType, m.FSSource, m.MountPoint, m.MountOptions)
	}
	dev := Unknown
	switch {
	case m.Device != Unknown:
		dev = "/dev/" + m.Device + " (" + m.DeviceNumber + ")"
		if m.Disk != Unknown && m.Disk != m.Device {
			dev += ", on disk " + m.Disk
		}
		if m.DeviceModel != Unknown {
			dev += ", " + m.DeviceModel
		}
		switch m.Rotational {
		case "no":
			dev += ", non-rotational"
		case "yes":
			dev += ", rotational"
		default:
			dev += ", rotational: unknown"
		}
		if m.Scheduler != Unknown {
			dev += ", scheduler " + m.Scheduler
		}
	case m.DeviceErr != "":
		dev = Unknown + " (" + m.DeviceErr + ")"
	}
	return []Fact{
		{"platform", platform},
		{"go", m.GoVersion},
		{"cpu", m.CPUModel},
		{"cores", fmt.Sprintf("%d (GOMAXPROCS %d)", m.CPUs, m.GOMAXPROCS)},
		{"memory", mem},
		{"kernel", m.Kernel},
		{"fs", fs},
		{"device", dev},
	}
}

// WriteHeader prints facts as "# name: value" lines, the values aligned.
func WriteHeader(w io.Writer, facts []Fact) error {
	width := 0
	for _, f := range facts {
		width = max(width, len(f.Name))
	}
	var b strings.Builder
	for _, f := range facts {
		fmt.Fprintf(&b, "# %-*s %s\n", width+1, f.Name+":", f.Value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// archLevel is the GOARM/GOAMD64/GOARM64/… setting the binary was built
// with: the same GOARCH runs different code at different levels (GOARM=5
// emulates floating point, GOAMD64=v3 may use AVX2), so a report names it.
func archLevel() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "GO"+strings.ToUpper(runtime.GOARCH) && s.Value != "" {
			return s.Key + "=" + s.Value
		}
	}
	return ""
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
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
	return ""
}

// memTotal reads MemTotal from /proc/meminfo; 0 when not there.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v) // "16318060 kB"
			if len(f) == 2 && f[1] == "kB" {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n << 10
				}
			}
		}
	}
	return 0
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
