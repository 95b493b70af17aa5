//go:build !linux

package simfs

import "errors"

type faultImage struct{}

func newFaultImage(*inode, int64) error {
	return errors.New("simfs: faultable images need Linux (memfd)")
}

func (*faultImage) protect(int64) error { return errors.New("simfs: no faultable image") }

// FaultsAttributed reports false: FaultPage needs Linux.
func FaultsAttributed() bool { return false }
