//go:build !linux

package bench

import "fmt"

// DeviceOf finds the block device holding dir; only Linux is supported.
func DeviceOf(dir string) (*Device, error) {
	return nil, fmt.Errorf("%w: %s (not Linux)", ErrNoDevice, dir)
}

// Read returns the device's current counters; only Linux is supported.
func (d *Device) Read() (DiskCounters, error) { return DiskCounters{}, ErrNoDevice }
