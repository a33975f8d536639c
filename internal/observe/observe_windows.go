package observe

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// golang.org/x/sys/windows has no GetExtendedTcpTable wrapper; iphlpapi.dll
// exports it (Microsoft Learn: GetExtendedTcpTable function, iphlpapi.h).
var procGetExtendedTcpTable = windows.NewLazySystemDLL("iphlpapi.dll").NewProc("GetExtendedTcpTable")

const (
	tcpTableOwnerPIDAll = 5 // TCP_TABLE_OWNER_PID_ALL in TCP_TABLE_CLASS
	winAFInet           = 2
	winAFInet6          = 23
)

// tableSource polls the system TCP table. Windows lets no process read
// another's socket options, and the table has no timers or ages: state,
// owner and disappearance are what it gives.
type tableSource struct{ cfg Config }

func openSource(cfg Config) (source, error) {
	if err := procGetExtendedTcpTable.Find(); err != nil {
		return nil, fmt.Errorf("GetExtendedTcpTable: %w", err)
	}
	src := &tableSource{cfg: cfg}
	if _, err := src.poll(); err != nil {
		return nil, err
	}
	return src, nil
}

func (t *tableSource) close() {}

// getTable reads one family's table, growing the buffer as the API asks
// (it returns ERROR_INSUFFICIENT_BUFFER with the size it needs; the table
// may grow between two calls, hence the retries).
func getTable(af uint32) ([]tableRow, error) {
	size := uint32(16 * 1024)
	for range 5 {
		buf := make([]byte, size)
		r, _, _ := procGetExtendedTcpTable.Call(
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)),
			0, uintptr(af), tcpTableOwnerPIDAll, 0)
		switch windows.Errno(r) {
		case windows.ERROR_SUCCESS:
			return parseTCPTable(buf[:min(int(size), len(buf))], af == winAFInet6)
		case windows.ERROR_INSUFFICIENT_BUFFER:
			size += 4 * 1024
			continue
		default:
			return nil, fmt.Errorf("GetExtendedTcpTable: %w", windows.Errno(r))
		}
	}
	return nil, errors.New("GetExtendedTcpTable: the table kept growing")
}

func (t *tableSource) poll() (sample, error) {
	fams := []uint32{winAFInet6}
	if t.cfg.Local.Addr().Unmap().Is4() {
		// A dual-mode socket's IPv4 connection may be listed in either.
		fams = []uint32{winAFInet, winAFInet6}
	}
	for _, af := range fams {
		rows, err := getTable(af)
		if err != nil {
			return sample{At: time.Now()}, err
		}
		if r, ok := findRow(rows, t.cfg.Local, t.cfg.Remote); ok {
			return rowSample(r, true, time.Now()), nil
		}
	}
	return sample{At: time.Now()}, nil
}

func (t *tableSource) identify(s sample) (Owner, keepalive.Effective, string, []string) {
	return Owner{PID: s.PID, Name: processName(s.PID)}, keepalive.Effective{},
		unknownFrom("not readable from another process on windows"), nil
}

func (t *tableSource) held() heldState { return heldUnknown }

// processName is the image file name of pid (QueryFullProcessImageName),
// "" when the process cannot be opened (exited, or protected).
func processName(pid int) string {
	if pid <= 0 {
		return ""
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return ""
	}
	return filepath.Base(windows.UTF16ToString(buf[:n]))
}

// ListenerOwner finds the process that owns the listening TCP socket on
// port (IPv4 or IPv6) from the TCP tables.
func ListenerOwner(port int) (Owner, error) {
	if port <= 0 || port > 65535 {
		return Owner{}, fmt.Errorf("listener owner: port %d out of range", port)
	}
	for _, af := range []uint32{winAFInet, winAFInet6} {
		rows, err := getTable(af)
		if err != nil {
			return Owner{}, fmt.Errorf("listener owner: %w", err)
		}
		if r, ok := findListener(rows, port); ok {
			return Owner{PID: r.pid, Name: processName(r.pid)}, nil
		}
	}
	return Owner{}, fmt.Errorf("listener owner: nothing listens on TCP port %d", port)
}
