package agentd

import (
	"net/netip"
	"strings"
	"testing"
)

// TestOutsideTarget: a target outside the cluster is allowed only when
// this agent's own config lists it, port included.
func TestOutsideTarget(t *testing.T) {
	a := &Agent{cfg: Config{Name: "c-1", Targets: []string{"192.0.2.30:5432", "[2001:db8::7]:6379"}}}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"192.0.2.30:5432", true},
		{"[2001:db8::7]:6379", true},
		{"192.0.2.30:5433", false},
		{"192.0.2.31:5432", false},
	} {
		err := a.checkOutsideTarget(netip.MustParseAddrPort(tc.addr))
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "targets = [")) {
			t.Errorf("%s: %v, want allowed %v (refusals name the config key)", tc.addr, err, tc.ok)
		}
	}
}
