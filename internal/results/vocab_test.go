package results

import (
	"testing"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

func TestDetectionClasses(t *testing.T) {
	tests := []struct {
		errno           string
		keepalive, peer bool
	}{
		{"ETIMEDOUT", true, false},
		{"WSAETIMEDOUT", true, false},
		{"WSAENETRESET", true, false}, // both documented for recv after a keepalive failure
		{"EOF", false, true},
		{"ECONNRESET", false, true},
		{"WSAECONNRESET", false, true},
		{"EHOSTUNREACH", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if got := IsKeepaliveDetection(tt.errno); got != tt.keepalive {
			t.Errorf("IsKeepaliveDetection(%q) = %v", tt.errno, got)
		}
		if got := IsPeerClosed(tt.errno); got != tt.peer {
			t.Errorf("IsPeerClosed(%q) = %v", tt.errno, got)
		}
	}
}

func TestExpect(t *testing.T) {
	for _, tc := range []struct {
		kind string
		sc   keepalive.Scenario
		want Expectation
	}{
		{KindDrop, "", ExpectDetected},
		{KindVMPause, keepalive.ScenarioIdle, ExpectDetected},
		{KindPause, keepalive.ScenarioIdle, ExpectNotDetected},
		{KindPause, keepalive.ScenarioUnacked, ExpectNotDetected}, // the paused peer's kernel ACKs the data
		{KindPause, keepalive.ScenarioHeartbeat, ExpectDetected},  // but nobody answers the heartbeat
		{KindKill, keepalive.ScenarioHeartbeat, ExpectImmediate},
	} {
		if got := Expect(tc.kind, tc.sc); got != tc.want {
			t.Errorf("Expect(%s, %q) = %s, want %s", tc.kind, tc.sc, got, tc.want)
		}
	}
}

func TestDirectionSuffix(t *testing.T) {
	for dir, want := range map[string]string{DirectionBoth: "", "": "", DirectionToServer: "→server", DirectionToClient: "→client"} {
		if got := DirectionSuffix(dir); got != want {
			t.Errorf("DirectionSuffix(%q) = %q, want %q", dir, got, want)
		}
	}
	if len(Directions) != 3 || Directions[0] != DirectionBoth {
		t.Errorf("Directions = %v: want both first, then the two one-way directions", Directions)
	}
}

func TestCapability(t *testing.T) {
	for _, tc := range []struct{ kind, scope, want string }{
		{KindDrop, ScopeFlow, "drop"}, {KindDrop, ScopeHost, CapDropHost}, {KindPause, "", "pause"}, {KindVMPause, "", "vm-pause"}, {KindKill, "", "kill"},
	} {
		if got := Capability(tc.kind, tc.scope); got != tc.want {
			t.Errorf("Capability(%s, %s) = %s, want %s", tc.kind, tc.scope, got, tc.want)
		}
	}
}
