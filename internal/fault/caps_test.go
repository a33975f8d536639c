package fault

import (
	"errors"
	"strings"
	"testing"
)

func TestCapabilitiesFor(t *testing.T) {
	tests := []struct {
		name     string
		facts    capFacts
		drop     bool
		dropWhy  string
		pause    bool
		pauseWhy string
	}{
		{"linux root", capFacts{OS: "linux", Privileged: true}, true, "nftables", true, "SIGSTOP"},
		{"linux user", capFacts{OS: "linux"}, false, "needs root", true, "SIGSTOP"},
		{"linux no nftables", capFacts{OS: "linux", Privileged: true, DropErr: errors.New("protocol not supported")}, false, "protocol not supported", true, ""},
		{"windows elevated", capFacts{OS: "windows", Privileged: true}, true, "Windows Filtering Platform", true, "NtSuspendProcess"},
		{"windows not elevated", capFacts{OS: "windows"}, false, "elevated", true, ""},
		{"windows WFP refused", capFacts{OS: "windows", Privileged: true, DropErr: errors.New("Access is denied.")}, false, "Access is denied", true, ""},
		{"macOS root", capFacts{OS: "darwin", Privileged: true}, true, "pf rules in anchor com.apple/kalab", true, "SIGSTOP"},
		{"macOS user", capFacts{OS: "darwin"}, false, "needs root for pfctl", true, ""},
		{"freebsd", capFacts{OS: "freebsd", Privileged: true}, false, "not supported on freebsd", false, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps := map[string]Capability{}
			for _, c := range capabilitiesFor(tt.facts) {
				caps[c.Kind] = c
			}
			for _, k := range []string{CapDrop, CapDropHost} {
				if c := caps[k]; c.OK != tt.drop || !strings.Contains(c.Why, tt.dropWhy) {
					t.Errorf("%s = %+v, want ok=%v why~%q", k, c, tt.drop, tt.dropWhy)
				}
			}
			if c := caps[CapPause]; c.OK != tt.pause || !strings.Contains(c.Why, tt.pauseWhy) {
				t.Errorf("pause = %+v, want ok=%v why~%q", c, tt.pause, tt.pauseWhy)
			}
			if !caps[CapKill].OK {
				t.Error("kill must always be available")
			}
		})
	}
}

func TestCapabilitiesVMPause(t *testing.T) {
	hook := Hypervisor{VM: "v", Pause: []string{"virsh", "suspend", "{vm}"}, Resume: []string{"virsh", "resume", "{vm}"}}
	vm := func(h Hypervisor, lab bool) Capability {
		for _, c := range Capabilities(h, lab) {
			if c.Kind == CapVMPause {
				return c
			}
		}
		t.Fatal("no vm-pause capability listed")
		return Capability{}
	}
	if c := vm(hook, false); !c.OK || !strings.Contains(c.Why, "hypervisor hook for VM v") {
		t.Errorf("with a hook: %+v", c)
	}
	if c := vm(Hypervisor{}, false); c.OK || !strings.Contains(c.Why, "local config") {
		t.Errorf("without a hook: %+v", c)
	}
	if got := hook.argv(hook.Pause); strings.Join(got, " ") != "virsh suspend v" {
		t.Errorf("argv %q", got)
	}
}
