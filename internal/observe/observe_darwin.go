package observe

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// netstatPath is absolute: a service's PATH may lack /usr/sbin.
const netstatPath = "/usr/sbin/netstat"

// netstatSource polls netstat's view of the TCP table. macOS gives no
// process another's socket options, and netstat shows no timers or ages:
// state, owner and disappearance are what it gives. Each poll runs
// netstat (tens of ms), so a Poll below that is not met.
type netstatSource struct{ cfg Config }

func openSource(cfg Config) (source, error) {
	src := &netstatSource{cfg: cfg}
	if _, err := src.poll(); err != nil {
		return nil, err
	}
	return src, nil
}

func (n *netstatSource) close() {}

// netstatRows runs netstat directly (no shell) and parses its rows.
func netstatRows() ([]tableRow, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, netstatPath, netstatArgs...).Output()
	if err != nil {
		return nil, fmt.Errorf("%s %v: %w", netstatPath, netstatArgs, err)
	}
	return parseNetstat(out)
}

func (n *netstatSource) poll() (sample, error) {
	rows, err := netstatRows()
	at := time.Now()
	if err != nil {
		return sample{At: at}, err
	}
	r, ok := findRow(rows, n.cfg.Local, n.cfg.Remote)
	return rowSample(r, ok, at), nil
}

func (n *netstatSource) identify(s sample) (Owner, keepalive.Effective, string, []string) {
	name := s.Name
	if name == "" {
		name = processName(s.PID)
	}
	return Owner{PID: s.PID, Name: name}, keepalive.Effective{},
		unknownFrom("not readable from another process on darwin"), nil
}

func (n *netstatSource) held() heldState { return heldUnknown }

// processName is the process's p_comm (sysctl kern.proc.pid), "" if it
// cannot be read.
func processName(pid int) string {
	if pid <= 0 {
		return ""
	}
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return ""
	}
	return unix.ByteSliceToString(kp.Proc.P_comm[:])
}

// ListenerOwner finds the process that owns the listening TCP socket on
// port from netstat's table.
func ListenerOwner(port int) (Owner, error) {
	if port <= 0 || port > 65535 {
		return Owner{}, fmt.Errorf("listener owner: port %d out of range", port)
	}
	rows, err := netstatRows()
	if err != nil {
		return Owner{}, fmt.Errorf("listener owner: %w", err)
	}
	r, ok := findListener(rows, port)
	if !ok {
		return Owner{}, fmt.Errorf("listener owner: nothing listens on TCP port %d", port)
	}
	name := r.name
	if name == "" {
		name = processName(r.pid)
	}
	return Owner{PID: r.pid, Name: name}, nil
}
