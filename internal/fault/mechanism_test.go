package fault

import (
	"strings"
	"testing"
)

// TestMechanism: each OS's result names that OS's mechanism — a Windows
// agent's drop is WFP, never nftables.
func TestMechanism(t *testing.T) {
	tests := []struct{ goos, kind, scope, want, never string }{
		{"linux", "drop", "flow", "nftables", "WFP"},
		{"linux", "drop", "", "nftables", "pf"},
		{"linux", "drop", "host", "nftables", "WFP"},
		{"windows", "drop", "flow", "WFP", "nftables"},
		{"windows", "drop", "host", "WFP", "nftables"},
		{"windows", "pause", "", "NtSuspendProcess", "SIGSTOP"},
		{"windows", "kill", "", "TerminateProcess", "SIGKILL"},
		{"darwin", "drop", "flow", "pf", "nftables"},
		{"darwin", "drop", "host", "pf", "WFP"},
		{"darwin", "pause", "", "SIGSTOP", "NtSuspendProcess"},
		{"linux", "vm-pause", "", "agent.toml", "nftables"},
		{"plan9", "drop", "flow", "not supported on plan9", "nftables"},
	}
	for _, tt := range tests {
		got := Mechanism(tt.goos, tt.kind, tt.scope)
		if !strings.Contains(got, tt.want) || strings.Contains(got, tt.never) {
			t.Errorf("Mechanism(%s, %s, %s) = %q, want it to name %q and never %q", tt.goos, tt.kind, tt.scope, got, tt.want, tt.never)
		}
	}
}
