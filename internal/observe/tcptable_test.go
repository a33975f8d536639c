package observe

import (
	"encoding/hex"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// readHex loads a testdata hex file: bytes as hex pairs, "#" to end of
// line is a comment.
func readHex(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	out, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// TestParseTCPTable decodes Windows TCP tables. The inputs are constructed
// samples built from Microsoft's documented MIB_TCPTABLE_OWNER_PID and
// MIB_TCP6TABLE_OWNER_PID layouts (testdata/README.md), not captures.
func TestParseTCPTable(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		file string
		v6   bool
		want []tableRow
	}{
		{"mib_tcptable_owner_pid.hex", false, []tableRow{
			{local: ap("0.0.0.0:6379"), remote: ap("0.0.0.0:0"), state: stListen, pid: 4242},
			{local: ap("10.0.0.5:6379"), remote: ap("10.0.0.9:50000"), state: stEstablished, pid: 4242},
			{local: ap("10.0.0.5:6379"), remote: ap("10.0.0.9:50001"), state: stFinWait2, pid: 4242},
			{local: ap("10.0.0.5:6379"), remote: ap("10.0.0.9:49999"), state: stTimeWait, pid: 0},
		}},
		{"mib_tcp6table_owner_pid.hex", true, []tableRow{
			{local: ap("[::]:5432"), remote: ap("[::]:0"), state: stListen, pid: 777},
			{local: ap("[2001:db8::5]:5432"), remote: ap("[2001:db8::9]:61000"), state: stEstablished, pid: 778},
			{local: ap("[::ffff:10.0.0.5]:8080"), remote: ap("[::ffff:10.0.0.9]:52000"), state: stCloseWait, pid: 900},
		}},
	}
	for _, tt := range tests {
		b := readHex(t, tt.file)
		rows, err := parseTCPTable(b, tt.v6)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if len(rows) != len(tt.want) {
			t.Fatalf("%s: %d rows, want %d", tt.file, len(rows), len(tt.want))
		}
		for i := range rows {
			if rows[i] != tt.want[i] {
				t.Errorf("%s row %d = %+v, want %+v", tt.file, i, rows[i], tt.want[i])
			}
		}
		// A buffer cut short of what dwNumEntries claims is refused.
		if _, err := parseTCPTable(b[:len(b)-1], tt.v6); err == nil {
			t.Errorf("%s: truncated buffer accepted", tt.file)
		}
	}
	if _, err := parseTCPTable([]byte{1, 0}, false); err == nil {
		t.Error("a 2-byte buffer was accepted")
	}
}

// TestFindRow: the configured connection is found by its 4-tuple, an IPv4
// config matches a dual-mode IPv6 row, and listeners are never the
// connection (but are what findListener wants).
func TestFindRow(t *testing.T) {
	ap := netip.MustParseAddrPort
	v4, _ := parseTCPTable(readHex(t, "mib_tcptable_owner_pid.hex"), false)
	v6, _ := parseTCPTable(readHex(t, "mib_tcp6table_owner_pid.hex"), true)
	tests := []struct {
		name          string
		rows          []tableRow
		local, remote netip.AddrPort
		wantState     string // "" = not found
	}{
		{"established", v4, ap("10.0.0.5:6379"), ap("10.0.0.9:50000"), stEstablished},
		{"closing", v4, ap("10.0.0.5:6379"), ap("10.0.0.9:50001"), stFinWait2},
		{"other client port", v4, ap("10.0.0.5:6379"), ap("10.0.0.9:50002"), ""},
		{"ipv6", v6, ap("[2001:db8::5]:5432"), ap("[2001:db8::9]:61000"), stEstablished},
		{"ipv4 in a dual-mode row", v6, ap("10.0.0.5:8080"), ap("10.0.0.9:52000"), stCloseWait},
		{"listener is not a connection", v4, ap("0.0.0.0:6379"), ap("0.0.0.0:0"), ""},
	}
	for _, tt := range tests {
		r, ok := findRow(tt.rows, tt.local, tt.remote)
		if got := map[bool]string{true: r.state}[ok]; got != tt.wantState {
			t.Errorf("%s: found %q, want %q", tt.name, got, tt.wantState)
		}
	}
	if r, ok := findListener(v4, 6379); !ok || r.pid != 4242 {
		t.Errorf("listener on 6379: %+v %v, want pid 4242", r, ok)
	}
	if r, ok := findListener(v6, 5432); !ok || r.pid != 777 {
		t.Errorf("listener on 5432: %+v %v, want pid 777", r, ok)
	}
	if _, ok := findListener(v4, 80); ok {
		t.Error("a listener on 80 was found in a table without one")
	}
}
