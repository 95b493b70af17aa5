//go:build linux

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// storageFacts describes the file system holding dir (from
// /proc/self/mountinfo) and the block device behind it (from sysfs).
func storageFacts(dir string) []Fact {
	var facts []Fact
	if fs := mountOf(dir); fs != "" {
		facts = append(facts, Fact{"fs", fs})
	}
	d, err := DeviceOf(dir)
	if err != nil {
		return append(facts, Fact{"device", "unknown (" + err.Error() + ")"})
	}
	desc := fmt.Sprintf("/dev/%s (%d:%d)", d.Name, d.Major, d.Minor)
	if d.Disk != d.Name {
		desc += ", on disk " + d.Disk
	}
	blk := "/sys/block/" + d.Disk
	if m := readTrim(blk + "/device/model"); m != "" {
		desc += ", model " + m
	} else if drv, err := os.Readlink(blk + "/device/driver"); err == nil {
		desc += ", driver " + filepath.Base(drv)
	}
	switch readTrim(blk + "/queue/rotational") {
	case "0":
		desc += ", non-rotational"
	case "1":
		desc += ", rotational"
	}
	if s := readTrim(blk + "/queue/scheduler"); s != "" {
		desc += ", scheduler " + s
	}
	return append(facts, Fact{"device", desc})
}

// mountOf finds dir's mount in /proc/self/mountinfo (the longest mount
// point containing it) and prints "type source (options)".
func mountOf(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	best, bestLen := "", -1
	for _, line := range strings.Split(string(b), "\n") {
		// id parent major:minor root mountpoint options [optional…] - type source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(g) < 2 {
			continue
		}
		mp := unescapeMount(f[4])
		if !(abs == mp || mp == "/" || strings.HasPrefix(abs, mp+"/")) || len(mp) < bestLen {
			continue
		}
		opts := f[5]
		if len(g) > 2 {
			opts += "; " + g[2]
		}
		best, bestLen = fmt.Sprintf("%s %s on %s (%s)", g[0], g[1], mp, opts), len(mp)
	}
	return best
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space…).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
