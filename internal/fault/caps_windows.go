package fault

import "github.com/kalab-dev/kalab/internal/privilege"

func osCapabilities() []Capability {
	f := capFacts{OS: "windows", Privileged: privilege.Elevated()}
	if f.Privileged {
		_, f.DropErr = session()
	}
	return capabilitiesFor(f)
}
