package observe

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// macOS has no sock_diag and no public per-socket API for another process's
// sockets, so the darwin poller reads `netstat -anvW -p tcp` (netstat(1);
// Apple's network_cmds netstat.tproj): -a all sockets, -n numeric, -v
// adds the owner, -W keeps long (IPv6) addresses whole. The parser is
// OS-independent so it is tested on every OS against constructed outputs
// in the documented format (testdata/).
//
// Two layouts exist. Older releases print, after (state), the columns
// rhiwat shiwat pid epid state options …; newer ones may add rxbytes and
// txbytes and print one "process:pid" column, where the process name may
// contain spaces. The header says which, so columns are found from it.

// netstatArgs are the arguments the darwin poller runs netstat with.
var netstatArgs = []string{"-anvW", "-p", "tcp"}

// parseNetstat reads the TCP rows of `netstat -anvW -p tcp`.
func parseNetstat(out []byte) ([]tableRow, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	stateCol, pidCol, procCol := -1, -1, -1
	var rows []tableRow
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Proto") {
			h := strings.NewReplacer("Local Address", "Local-Address", "Foreign Address", "Foreign-Address").Replace(line)
			for i, f := range strings.Fields(h) {
				switch f {
				case "(state)":
					stateCol = i
				case "pid":
					if pidCol < 0 {
						pidCol = i
					}
				case "process:pid":
					procCol = i
				}
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[0], "tcp") {
			continue
		}
		if stateCol != 5 {
			return nil, errors.New("netstat: a tcp row before a header with (state) as the 6th column")
		}
		local, okL := parseNetstatAddr(f[3])
		remote, okR := parseNetstatAddr(f[4])
		if !okL || !okR {
			continue // an address netstat truncated: not one kalab can match
		}
		row := tableRow{local: local, remote: remote, state: darwinState(f[5])}
		switch {
		case procCol > 0 && len(f) > procCol:
			// The name may hold spaces: the first field from procCol on
			// that ends in ":<digits>" closes it.
			for j := procCol; j < len(f); j++ {
				i := strings.LastIndexByte(f[j], ':')
				if i < 0 {
					continue
				}
				if pid, err := strconv.Atoi(f[j][i+1:]); err == nil {
					row.pid = pid
					row.name = strings.Join(append(slices.Clone(f[procCol:j]), f[j][:i]), " ")
					break
				}
			}
		case pidCol > 0 && len(f) > pidCol:
			row.pid, _ = strconv.Atoi(f[pidCol])
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if stateCol < 0 {
		return nil, errors.New("netstat: no header line (Proto … (state) …) in the output")
	}
	return rows, nil
}

// parseNetstatAddr reads netstat's "address.port": 127.0.0.1.6379,
// ::1.6379, fe80::1%lo0.6379, *.6379 (any address), *.* (none yet: a
// listener's foreign address, the zero AddrPort). A truncated address is
// not usable.
func parseNetstatAddr(s string) (netip.AddrPort, bool) {
	if s == "*.*" {
		return netip.AddrPort{}, true
	}
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	host := s[:i]
	if host == "*" {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)), true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// darwinState maps netstat's state names (tcpstates[] in XNU's tcp_fsm.h)
// onto observe's.
func darwinState(s string) string {
	switch s {
	case "CLOSED":
		return stClose
	case "SYN_RECEIVED":
		return stSynRecv
	case "FIN_WAIT_1":
		return stFinWait1
	case "FIN_WAIT_2":
		return stFinWait2
	}
	return s // ESTABLISHED, LISTEN, SYN_SENT, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT
}
