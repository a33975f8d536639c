package fault

import (
	"os/exec"

	"github.com/kalab-dev/kalab/internal/privilege"
)

func osCapabilities() []Capability {
	f := capFacts{OS: "darwin", Privileged: privilege.Elevated()}
	if _, err := exec.LookPath(pfctlPath); err != nil {
		f.DropErr = err
	} else if f.Privileged {
		// Reading the rules needs root and proves /dev/pf is usable.
		_, f.DropErr = pfctl("", "-s", "References")
	}
	return capabilitiesFor(f)
}
