package selfusage

import (
	"os"

	"golang.org/x/sys/unix"
)

// readOS fills what macOS exposes without cgo: /dev/fd for the open
// descriptors, getrusage(2) for CPU time and the peak resident set
// (ru_maxrss is in bytes on macOS, KiB on Linux). The current resident
// set needs task_info (Mach, cgo) and stays unknown.
func readOS(u *Usage) {
	if ents, err := os.ReadDir("/dev/fd"); err == nil {
		u.OpenFDs = len(ents) - 1 // the directory ReadDir itself held open
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		u.CPUNS = ru.Utime.Nano() + ru.Stime.Nano()
		u.PeakRSSBytes = ru.Maxrss
	}
}
