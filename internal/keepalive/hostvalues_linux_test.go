package keepalive

import "testing"

// TestLocalRetransmitLimits: this host's /proc/sys is read and named as the
// source.
func TestLocalRetransmitLimits(t *testing.T) {
	l, err := LocalRetransmitLimits()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", l.Values)
	if l.OS != "linux" || l.Retries <= 0 {
		t.Fatalf("got %+v", l)
	}
	for _, v := range l.Values {
		if v.Name == "net.ipv4.tcp_retries2" && v.Source != SourceSysctl {
			t.Errorf("tcp_retries2 from %q, want sysctl", v.Source)
		}
	}
}
