package selfusage

import "golang.org/x/sys/windows"

// readOS fills the CPU time from GetProcessTimes (kernel + user, in 100 ns
// units). Handle counts and working-set sizes (GetProcessHandleCount,
// GetProcessMemoryInfo) have no wrapper in golang.org/x/sys/windows and
// stay unknown.
func readOS(u *Usage) {
	var created, exited, kernel, user windows.Filetime
	if windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &kernel, &user) == nil {
		u.CPUNS = (ticks(kernel) + ticks(user)) * 100
	}
}

func ticks(f windows.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
