//go:build !windows

package privilege

import "os"

// Elevated reports euid 0.
func Elevated() bool { return os.Geteuid() == 0 }
