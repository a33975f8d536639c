// Package selfusage reads this process's own resource use — goroutines,
// open file descriptors, resident memory and CPU time — so that an agent
// can report it in its status answer (wire.Usage) and `coordinator bench
// concurrency` can show what many measured connections cost an agent and
// whether anything leaks across runs.
package selfusage

import "runtime"

// Usage is one reading. A field the OS does not expose stays at its
// "unknown" value, named on each field, and is shown as such, never as 0.
type Usage struct {
	// Goroutines is runtime.NumGoroutine (every OS).
	Goroutines int
	// OpenFDs is how many file descriptors (Windows: handles) the process
	// holds; -1 unknown.
	OpenFDs int
	// RSSBytes is the resident set now, PeakRSSBytes its peak since the
	// process started; 0 unknown.
	RSSBytes, PeakRSSBytes int64
	// CPUNS is user + system CPU time since the process started, in ns; -1
	// unknown.
	CPUNS int64
}

// Read takes a reading of this process.
func Read() Usage {
	u := Usage{Goroutines: runtime.NumGoroutine(), OpenFDs: -1, CPUNS: -1}
	readOS(&u)
	return u
}
