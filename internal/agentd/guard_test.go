package agentd

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/cluster"
)

// TestHostDropPeer: a host drop goes only toward a live member agent —
// never loopback, the agent itself, a coordinator or a stranger.
func TestHostDropPeer(t *testing.T) {
	own := netip.MustParseAddr("198.18.0.2")
	members := []cluster.Member{
		{Name: "self", Addr: "198.18.0.2:7946", Tags: map[string]string{cluster.TagRole: "agent"}},
		{Name: "server", Addr: "198.18.0.3:7946", Tags: map[string]string{cluster.TagRole: "agent"}},
		{Name: "coordinator-x", Addr: "198.18.0.1:7947", Tags: map[string]string{cluster.TagRole: "coordinator"}},
	}
	tests := []struct {
		peer, want string // want "" = allowed
	}{
		{"198.18.0.3", ""},
		{"::ffff:198.18.0.3", ""},
		{"127.0.0.1", "loopback"},
		{"::1", "loopback"},
		{"0.0.0.0", "unspecified"},
		{"198.18.0.2", "own address"},
		{"198.18.0.1", "coordinator"},
		{"198.18.0.99", "not a live agent"},
	}
	for _, tt := range tests {
		err := hostDropPeerOK(netip.MustParseAddr(tt.peer), own, members)
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("peer %s: %v, want %q", tt.peer, err, tt.want)
		}
	}
}

// TestRunIDs: ids name files and pf anchors, so they are bounded.
func TestRunIDs(t *testing.T) {
	for id, ok := range map[string]bool{
		"quick-abd9ae-lab-agent-2-lab-agent-1-3-1": true,
		"a.b_c-1":                  true,
		"":                         false,
		"../../etc/passwd":         false,
		"run id":                   false,
		"x\ny":                     false,
		strings.Repeat("r", 128):   true,
		strings.Repeat("r", 129):   false,
		"com.apple/kalab.evil-run": false,
	} {
		if err := checkRunID(id); (err == nil) != ok {
			t.Errorf("checkRunID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}
