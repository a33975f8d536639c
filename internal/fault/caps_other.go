//go:build !linux && !windows && !darwin

package fault

import "runtime"

func osCapabilities() []Capability { return capabilitiesFor(capFacts{OS: runtime.GOOS}) }
