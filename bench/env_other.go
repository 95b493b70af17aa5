//go:build !linux

package bench

// storageFacts leaves the file system and device Unknown: mountinfo,
// sysfs and diskstats are Linux's.
func storageFacts(m *Machine, dir string) {
	m.DeviceErr = "no mountinfo or sysfs on " + m.GOOS
}
