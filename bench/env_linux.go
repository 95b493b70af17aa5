//go:build linux

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sysFacts fills what /proc does not already give; on Linux it does.
func sysFacts(*Machine) {}

// storageFacts describes the file system holding dir (from
// /proc/self/mountinfo) and the block device behind it (from sysfs).
func storageFacts(m *Machine, dir string) {
	mountOf(m, dir)
	d, err := DeviceOf(dir)
	if err != nil {
		m.DeviceErr = err.Error()
		return
	}
	m.Device, m.DeviceNumber, m.Disk = d.Name, fmt.Sprintf("%d:%d", d.Major, d.Minor), d.Disk
	blk := "/sys/block/" + d.Disk
	if mod := readTrim(blk + "/device/model"); mod != "" {
		m.DeviceModel = "model " + mod
	} else if drv, err := os.Readlink(blk + "/device/driver"); err == nil {
		// Virtual disks (virtio, xen) have no model; the driver says what they are.
		m.DeviceModel = "driver " + filepath.Base(drv)
	}
	switch readTrim(blk + "/queue/rotational") {
	case "0":
		m.Rotational = "no"
	case "1":
		m.Rotational = "yes"
	}
	m.Scheduler = readTrim(blk + "/queue/scheduler")
}

// mountOf finds dir's mount in /proc/self/mountinfo (the longest mount
// point containing it) and records its type, source and options (the
// mount's own, then the super block's after a ";").
func mountOf(m *Machine, dir string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	bestLen := -1
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
		m.FSType, m.FSSource, m.MountPoint, m.MountOptions = g[0], unescapeMount(g[1]), mp, opts
		bestLen = len(mp)
	}
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
