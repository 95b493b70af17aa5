//go:build linux || darwin

package mmapfile

import "os"

// writeZeros fills f with size zero bytes, in page-sized writes so that the
// page cache keeps small folios (a store through the mapping then dirties one
// page, not a large folio).
func writeZeros(f *os.File, size int64) error {
	buf := make([]byte, os.Getpagesize())
	for off := int64(0); off < size; off += int64(len(buf)) {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
	}
	return f.Sync()
}
