package keepalive

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// localRetransmitLimits reads net.inet.tcp.rexmt_slop and
// net.inet.tcp.rtt_min (both in ms: TCP_RETRANSHZ is 1000); the retransmit
// limit TCP_MAXRXTSHIFT, TCPTV_REXMTMIN and TCPTV_REXMTMAX are constants.
func localRetransmitLimits() (RetransmitLimits, error) {
	l, _ := RetransmitDefaults(Platform{OS: "darwin"})
	var errs []error
	for _, s := range []struct {
		name string
		into *time.Duration
	}{{"net.inet.tcp.rexmt_slop", &l.Slop}, {"net.inet.tcp.rtt_min", &l.RTOMinLocal}} {
		v, err := unix.SysctlUint32(s.name)
		if err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s: %w", s.name, err))
			continue
		}
		*s.into = time.Duration(v) * time.Millisecond
		l.set("", s.name, strconv.FormatUint(uint64(v), 10)+" ms", SourceSysctl)
	}
	return l, errors.Join(errs...)
}
