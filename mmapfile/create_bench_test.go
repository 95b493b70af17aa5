//go:build linux

package mmapfile_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/spooldb/spool/mmapfile"
	"golang.org/x/sys/unix"
)

// BenchmarkCreate times preparing a default-sized (64 MiB) segment file in
// each mode, and reports the CPU it took (user + system), which is what
// spare preparation takes from appenders.
func BenchmarkCreate(b *testing.B) {
	for _, prep := range []mmapfile.Prep{mmapfile.PrepZeroFill, mmapfile.PrepFallocate} {
		b.Run(prep.String(), func(b *testing.B) {
			fsys, _ := openDirPrep(b, prep)
			cpu0 := cpuTime(b)
			for i := range b.N {
				name := fmt.Sprintf("seg%d", i)
				f, err := fsys.Create(name, 64<<20)
				if err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				if err := fsys.Remove(name); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

func cpuTime(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
