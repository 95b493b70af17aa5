package kill

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// emulatedMachine reports whether this process runs under a user-mode
// emulator such as qemu-user, and if so the machine it emulates and the
// kernel's own. qemu-user answers uname(2) with the emulated machine
// (armv7l, aarch64), but /proc/sys/kernel/arch comes from the kernel and
// names the host (x86_64). Natively both agree; on a kernel without the
// file the process is taken to be native.
func emulatedMachine() (emulated bool, machine, kernel string) {
	b, err := os.ReadFile("/proc/sys/kernel/arch")
	if err != nil {
		return false, "", ""
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false, "", ""
	}
	machine, kernel = unix.ByteSliceToString(u.Machine[:]), strings.TrimSpace(string(b))
	return machine != kernel, machine, kernel
}
