package fault

import (
	"os"
	"os/exec"
)

func osCapabilities() []Capability {
	f := capFacts{OS: "darwin", Privileged: os.Geteuid() == 0}
	if _, err := exec.LookPath(pfctlPath); err != nil {
		f.DropErr = err
	} else if f.Privileged {
		// Reading the rules needs root and proves /dev/pf is usable.
		_, f.DropErr = pfctl("", "-s", "References")
	}
	return capabilitiesFor(f)
}
