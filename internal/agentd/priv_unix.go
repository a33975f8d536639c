//go:build !windows

package agentd

import "os"

func privileged() bool { return os.Geteuid() == 0 }

var isPrivileged = privileged
