//go:build !linux

package kill

// emulatedMachine reports whether this process runs under a user-mode
// emulator. Only Linux (qemu-user) is detected; elsewhere the process is
// taken to be native.
func emulatedMachine() (emulated bool, machine, kernel string) {
	return false, "", ""
}
