//go:build !linux && !darwin && !windows

package fault

import (
	"os"

	"github.com/kalab-dev/kalab/internal/unsupported"
)

// suspend: NtSuspendProcess on Windows arrives with the Windows issue.
func suspend(*os.Process) error { return unsupported.Error("pause") }
func resume(*os.Process) error  { return unsupported.Error("resume") }
