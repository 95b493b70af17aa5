//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DeviceOf finds the block device holding dir: stat(dir).Dev gives
// major:minor, which /proc/diskstats lists (a partition, a whole disk or a
// device-mapper volume alike).
func DeviceOf(dir string) (*Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return nil, err
	}
	d := &Device{Major: unix.Major(uint64(st.Dev)), Minor: unix.Minor(uint64(st.Dev))}
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", d.Major, d.Minor)
	if b, err := os.ReadFile(sys + "/uevent"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "DEVNAME="); ok {
				d.Name = name
			}
		}
	}
	if d.Name == "" {
		// Find it in diskstats by number.
		f, err := os.ReadFile("/proc/diskstats")
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(f), "\n") {
			fs := strings.Fields(line)
			if len(fs) > 3 && fs[0] == strconv.Itoa(int(d.Major)) && fs[1] == strconv.Itoa(int(d.Minor)) {
				d.Name = fs[2]
			}
		}
	}
	if d.Name == "" {
		return nil, fmt.Errorf("%w: %s is on device %d:%d", ErrNoDevice, dir, d.Major, d.Minor)
	}
	d.Disk = d.Name
	if _, err := os.Stat(sys + "/partition"); err == nil {
		if real, err := filepath.EvalSymlinks(sys); err == nil {
			d.Disk = filepath.Base(filepath.Dir(real))
		}
	}
	if _, err := d.Read(); err != nil {
		return nil, err
	}
	return d, nil
}

// Read returns the device's current counters from /proc/diskstats.
func (d *Device) Read() (DiskCounters, error) {
	b, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		return DiskCounters{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// major minor name | reads merged sectors ms | writes merged sectors ms | ...
		if len(fs) < 10 || fs[2] != d.Name {
			continue
		}
		var c DiskCounters
		c.Writes, _ = strconv.ParseUint(fs[7], 10, 64)
		c.SectorsWritten, err = strconv.ParseUint(fs[9], 10, 64)
		if err != nil {
			return DiskCounters{}, fmt.Errorf("bench: parse /proc/diskstats for %s: %w", d.Name, err)
		}
		if len(fs) >= 19 { // kernel 5.5+: flushes completed (statistics field 16)
			c.Flushes, _ = strconv.ParseUint(fs[18], 10, 64)
		}
		return c, nil
	}
	return DiskCounters{}, fmt.Errorf("%w: %s not in /proc/diskstats", ErrNoDevice, d.Name)
}
