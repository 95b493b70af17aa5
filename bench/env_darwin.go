//go:build darwin

package bench

import "golang.org/x/sys/unix"

// sysFacts asks sysctl for what /proc would say on Linux: macOS has no
// /proc, but it names its CPU and RAM.
func sysFacts(m *Machine) {
	if s, err := unix.Sysctl("machdep.cpu.brand_string"); err == nil && s != "" {
		m.CPUModel = s
	}
	if n, err := unix.SysctlUint64("hw.memsize"); err == nil {
		m.MemoryBytes = int64(n)
	}
}
