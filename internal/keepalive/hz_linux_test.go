package keepalive

import (
	"strings"
	"testing"
)

func TestParseConfigHZ(t *testing.T) {
	hz, ok := parseConfigHZ(strings.NewReader("# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n"))
	if !ok || hz != 250 {
		t.Fatalf("parseConfigHZ = %d, %v; want 250, true", hz, ok)
	}
	if _, ok := parseConfigHZ(strings.NewReader("CONFIG_NO_HZ=y\n")); ok {
		t.Fatal("no CONFIG_HZ line: want !ok")
	}
}

// TestDetectHZAgrees checks the two ways of finding HZ against each other:
// the TCP_INFO inference must give what the kernel config says.
func TestDetectHZAgrees(t *testing.T) {
	hz, src, err := DetectHZ()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HZ=%d from %s", hz, src)
	measured, err := hzFromTCPInfo()
	if err != nil {
		t.Fatalf("TCP_INFO inference: %v", err)
	}
	if measured != hz {
		t.Fatalf("TCP_INFO says HZ=%d, %s says %d", measured, src, hz)
	}
}
