package selfusage

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// readOS fills what Linux exposes: /proc/self/fd (proc(5)) for the open
// descriptors, /proc/self/status VmRSS and VmHWM for the resident set now
// and at its peak, getrusage(2) for CPU time.
func readOS(u *Usage) {
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		u.OpenFDs = len(ents) - 1 // the directory ReadDir itself held open
	}
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok || (k != "VmRSS" && k != "VmHWM") {
				continue
			}
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				continue
			}
			if k == "VmRSS" {
				u.RSSBytes = kb << 10
			} else {
				u.PeakRSSBytes = kb << 10
			}
		}
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		u.CPUNS = ru.Utime.Nano() + ru.Stime.Nano()
	}
}
