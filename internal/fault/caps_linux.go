package fault

import "os"

func osCapabilities() []Capability {
	f := capFacts{OS: "linux", Privileged: os.Geteuid() == 0}
	if f.Privileged {
		_, f.DropErr = Tables(0)
	}
	return capabilitiesFor(f)
}
