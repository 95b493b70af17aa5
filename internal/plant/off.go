//go:build !spool_sensitivity

package plant

// On reports whether bug is planted: never, in a normal build.
func On(Bug) bool { return false }
