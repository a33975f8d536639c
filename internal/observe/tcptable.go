package observe

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// The Windows TCP tables GetExtendedTcpTable returns with
// TCP_TABLE_OWNER_PID_ALL (Microsoft Learn, tcpmib.h): a DWORD
// dwNumEntries, then the rows. All DWORDs are little-endian (every Windows
// target kalab builds for is); addresses are in network order; a port is
// in network order in the low 16 bits of its DWORD, whose upper 16 bits
// "may contain uninitialized data". The parser is OS-independent so it is
// tested on every OS against constructed tables (testdata/).

const (
	// sizeofTCPRowOwnerPID is MIB_TCPROW_OWNER_PID: dwState, dwLocalAddr,
	// dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid.
	sizeofTCPRowOwnerPID = 24
	// sizeofTCP6RowOwnerPID is MIB_TCP6ROW_OWNER_PID: ucLocalAddr[16],
	// dwLocalScopeId, dwLocalPort, ucRemoteAddr[16], dwRemoteScopeId,
	// dwRemotePort, dwState, dwOwningPid.
	sizeofTCP6RowOwnerPID = 56
)

// tableRow is one connection in an OS's socket table (Windows TCP table,
// macOS netstat).
type tableRow struct {
	local, remote netip.AddrPort
	state         string // st* names
	pid           int
	name          string // process name, when the table gives one
}

// parseTCPTable decodes a MIB_TCPTABLE_OWNER_PID (v6 false) or
// MIB_TCP6TABLE_OWNER_PID (v6 true) buffer.
func parseTCPTable(b []byte, v6 bool) ([]tableRow, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("tcp table: %d bytes, no entry count", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	size := sizeofTCPRowOwnerPID
	if v6 {
		size = sizeofTCP6RowOwnerPID
	}
	if n < 0 || n > (len(b)-4)/size {
		return nil, fmt.Errorf("tcp table: %d entries of %d bytes do not fit in %d bytes", n, size, len(b))
	}
	rows := make([]tableRow, 0, n)
	for i := range n {
		r := b[4+i*size : 4+(i+1)*size]
		dw := func(off int) uint32 { return binary.LittleEndian.Uint32(r[off:]) }
		port := func(off int) uint16 { return binary.BigEndian.Uint16(r[off:]) } // low 16 bits, network order
		var row tableRow
		if v6 {
			row.local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[0:16])), port(20))
			row.remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[24:40])), port(44))
			row.state = windowsState(dw(48))
			row.pid = int(dw(52))
		} else {
			row.state = windowsState(dw(0))
			row.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[4:8])), port(8))
			row.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[12:16])), port(16))
			row.pid = int(dw(20))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// windowsState names a MIB_TCP_STATE value. DELETE_TCB (12) is a
// connection being torn down: the end, like CLOSED.
func windowsState(s uint32) string {
	switch s {
	case 1, 12:
		return stClose
	case 2:
		return stListen
	case 3:
		return stSynSent
	case 4:
		return stSynRecv
	case 5:
		return stEstablished
	case 6:
		return stFinWait1
	case 7:
		return stFinWait2
	case 8:
		return stCloseWait
	case 9:
		return stClosing
	case 10:
		return stLastAck
	case 11:
		return stTimeWait
	}
	return fmt.Sprintf("STATE_%d", s)
}

// findRow returns the row of the configured connection.
func findRow(rows []tableRow, local, remote netip.AddrPort) (tableRow, bool) {
	for _, r := range rows {
		if r.state != stListen && sameConn(local, remote, r.local, r.remote) {
			return r, true
		}
	}
	return tableRow{}, false
}

// findListener returns the lowest-pid row listening on port.
func findListener(rows []tableRow, port int) (tableRow, bool) {
	var best tableRow
	ok := false
	for _, r := range rows {
		if r.state == stListen && int(r.local.Port()) == port && (!ok || r.pid < best.pid) {
			best, ok = r, true
		}
	}
	return best, ok
}

// rowSample turns a table lookup into a sample.
func rowSample(r tableRow, found bool, at time.Time) sample {
	if !found {
		return sample{At: at}
	}
	return sample{At: at, Present: true, State: r.state, PID: r.pid, Name: r.name}
}
