package fault

import "golang.org/x/sys/windows"

func osCapabilities() []Capability {
	f := capFacts{OS: "windows", Privileged: windows.GetCurrentProcessToken().IsElevated()}
	if f.Privileged {
		_, f.DropErr = session()
	}
	return capabilitiesFor(f)
}
