//go:build !linux && !darwin && !windows

package fault

import (
	"os"

	"github.com/kalab-dev/kalab/internal/unsupported"
)

// suspend and resume: kalab pauses processes only on Linux, macOS and
// Windows.
func suspend(*os.Process) error { return unsupported.Error("pause") }
func resume(*os.Process) error  { return unsupported.Error("resume") }

// ResumePID: see suspend.
func ResumePID(int) error { return unsupported.Error("resume") }
