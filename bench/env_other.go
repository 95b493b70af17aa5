//go:build !linux

package bench

func storageFacts(dir string) []Fact { return nil }
