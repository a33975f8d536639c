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

// TestDirectionMechanism: a one-way drop's account names its direction and
// the side of the OS's mechanism it uses.
func TestDirectionMechanism(t *testing.T) {
	tests := []struct {
		goos string
		dir  Direction
		want []string
	}{
		{"linux", "", []string{"both ways"}},
		{"linux", DirectionBoth, []string{"both ways"}},
		{"linux", DirectionToServer, []string{"to-server", "output chain"}},
		{"linux", DirectionToClient, []string{"to-client", "input chain"}},
		{"windows", DirectionToServer, []string{"to-server", "outbound transport layer"}},
		{"windows", DirectionToClient, []string{"to-client", "inbound transport layer"}},
		{"darwin", DirectionToServer, []string{"to-server", "block out"}},
		{"darwin", DirectionToClient, []string{"to-client", "block in"}},
	}
	for _, tt := range tests {
		got := DirectionMechanism(tt.goos, tt.dir)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("DirectionMechanism(%s, %q) = %q, want it to name %q", tt.goos, tt.dir, got, w)
			}
		}
	}
}

func TestParseDirection(t *testing.T) {
	for in, want := range map[string]Direction{"": DirectionBoth, "both": DirectionBoth, "to-server": DirectionToServer, "to-client": DirectionToClient} {
		if got, err := ParseDirection(in); got != want || err != nil {
			t.Errorf("ParseDirection(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"in", "out", "To-Server", "both "} {
		if _, err := ParseDirection(bad); err == nil || !strings.Contains(err.Error(), `"to-server"`) {
			t.Errorf("ParseDirection(%q): %v, want a refusal naming the allowed values", bad, err)
		}
	}
}
