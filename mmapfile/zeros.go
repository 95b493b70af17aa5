//go:build linux || darwin

package mmapfile

import "os"

// zeroStep is how much of a zero-fill is written before it is pushed to the
// device and waited for. A whole segment's zeros written back at once put
// tens of MiB in the device queue, and every commit waiting behind them
// stalls: measured here with a 64 MiB spare prepared during durable appends
// by 256 writers, p999 append latency 60-80 ms. In 256 KiB steps a commit
// waits behind at most one step.
const zeroStep = 256 << 10

// writeZeros fills f with size zero bytes, in page-sized writes so that the
// page cache keeps small folios (a store through the mapping then dirties one
// page, not a large folio), writing them back step by step.
func writeZeros(f *os.File, size int64) error {
	buf := make([]byte, os.Getpagesize())
	for off := int64(0); off < size; off += int64(len(buf)) {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		if end := off + n; end%zeroStep == 0 || end == size {
			start := (end - 1) &^ (zeroStep - 1)
			if err := writeBack(f, start, end-start); err != nil && !unsupported(err) {
				return err
			}
		}
	}
	return f.Sync()
}
