package observe

import (
	"net/netip"
	"os"
	"testing"
)

// TestParseNetstat reads both layouts of macOS `netstat -anvW -p tcp`.
// The inputs are constructed samples in the documented format
// (testdata/README.md), not captures from a Mac.
func TestParseNetstat(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		file string
		want []tableRow
	}{
		{"netstat_anv_pid.txt", []tableRow{
			{local: ap("10.0.0.5:6379"), remote: ap("10.0.0.9:50000"), state: stEstablished, pid: 4242},
			{local: ap("10.0.0.5:6379"), remote: ap("10.0.0.9:50001"), state: stFinWait2, pid: 4242},
			{local: ap("[::]:6379"), remote: netip.AddrPort{}, state: stListen, pid: 4242},
			{local: ap("[::1]:5432"), remote: ap("[::1]:61000"), state: stCloseWait, pid: 777},
			{local: ap("[::]:8080"), remote: netip.AddrPort{}, state: stListen, pid: 900},
		}},
		{"netstat_anv_process.txt", []tableRow{
			{local: ap("10.0.0.5:6379"), remote: ap("10.0.0.9:50000"), state: stEstablished, pid: 4242, name: "redis-server"},
			{local: ap("10.0.0.5:6379"), remote: ap("10.0.0.9:50001"), state: stTimeWait, pid: 4242, name: "redis-server"},
			{local: ap("[::]:6379"), remote: netip.AddrPort{}, state: stListen, pid: 4242, name: "redis-server"},
			{local: ap("[fe80::1%lo0]:8443"), remote: ap("[fe80::1%lo0]:52000"), state: stSynRecv, pid: 7187, name: "Brave Browser He"},
			{state: stClose, pid: 1, name: "launchd"},
		}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile("testdata/" + tt.file)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parseNetstat(b)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if len(rows) != len(tt.want) {
			t.Fatalf("%s: %d rows %+v, want %d", tt.file, len(rows), rows, len(tt.want))
		}
		for i := range rows {
			if rows[i] != tt.want[i] {
				t.Errorf("%s row %d = %+v, want %+v", tt.file, i, rows[i], tt.want[i])
			}
		}
		r, ok := findRow(rows, ap("10.0.0.5:6379"), ap("10.0.0.9:50000"))
		if !ok || r.state != stEstablished || r.pid != 4242 {
			t.Errorf("%s: connection row %+v %v", tt.file, r, ok)
		}
		if l, ok := findListener(rows, 6379); !ok || l.pid != 4242 {
			t.Errorf("%s: listener row %+v %v", tt.file, l, ok)
		}
	}
	if _, err := parseNetstat([]byte("netstat: sysctl: Operation not permitted\n")); err == nil {
		t.Error("output without a header was accepted")
	}
}

// TestParseNetstatAddr covers netstat's address.port spellings.
func TestParseNetstatAddr(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = unusable
	}{
		{"127.0.0.1.6379", "127.0.0.1:6379"},
		{"::1.5432", "[::1]:5432"},
		{"fe80::1%lo0.8443", "[fe80::1%lo0]:8443"},
		{"*.80", "[::]:80"},
		{"*.*", "invalid AddrPort"},
		{"2600:1700:5610:3.50624", ""}, // truncated IPv6 (without -W)
		{"10.0.0.5", ""},               // no port: "10.0.0" is not an address
	}
	for _, tt := range tests {
		got, ok := parseNetstatAddr(tt.in)
		s := ""
		if ok {
			s = got.String()
		}
		if s != tt.want {
			t.Errorf("parseNetstatAddr(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
}
