package fault

import "github.com/kalab-dev/kalab/internal/privilege"

func osCapabilities() []Capability {
	f := capFacts{OS: "linux", Privileged: privilege.Elevated()}
	if f.Privileged {
		_, f.DropErr = Tables(0)
	}
	return capabilitiesFor(f)
}
