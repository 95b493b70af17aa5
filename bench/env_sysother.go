//go:build !linux && !darwin

package bench

// sysFacts has nothing to add where there is no /proc and no known sysctl.
func sysFacts(*Machine) {}
