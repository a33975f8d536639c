package doctor

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Linux capability bits (linux/capability.h) that kalab's faults and probes
// use.
const (
	capNetAdmin = 12 // nftables rules (drop, drop-host)
	capNetRaw   = 13 // raw ICMP sockets (the privileged ping-loss monitor)
)

// privileges: root, and the effective capabilities that matter.
func privileges() Check {
	b, err := os.ReadFile("/proc/self/status")
	var capEff uint64
	if err == nil {
		capEff, err = parseCapEff(string(b))
	}
	return privilegesCheck(os.Geteuid(), capEff, err)
}

// parseCapEff reads the CapEff line of /proc/self/status (hex bit mask).
func parseCapEff(status string) (uint64, error) {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("CapEff %q: %w", strings.TrimSpace(v), err)
			}
			return n, nil
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

func privilegesCheck(euid int, capEff uint64, capErr error) Check {
	var caps []string
	for _, c := range []struct {
		bit  uint
		name string
	}{{capNetAdmin, "CAP_NET_ADMIN"}, {capNetRaw, "CAP_NET_RAW"}} {
		if capErr == nil && capEff&(1<<c.bit) != 0 {
			caps = append(caps, c.name)
		}
	}
	have := "none of CAP_NET_ADMIN, CAP_NET_RAW"
	if capErr != nil {
		have = "capabilities unknown: " + capErr.Error()
	} else if len(caps) > 0 {
		have = strings.Join(caps, ", ") + " effective"
	}
	if euid == 0 {
		st := OK
		if capErr == nil && len(caps) < 2 {
			st = Warn // root in a container that dropped capabilities
		}
		return Check{Name: "privileges", State: st, Detail: fmt.Sprintf("root (euid 0); %s", have)}
	}
	return Check{Name: "privileges", State: Warn,
		Detail: fmt.Sprintf("not root (euid %d); %s: drop faults need root for nftables, and the raw ICMP socket needs CAP_NET_RAW", euid, have),
		Fix:    "run the agent as root: sudo agent run …, or install it as a service (agent service install)"}
}

// timesyncFile exists while systemd-timesyncd considers the clock
// synchronized (systemd-timesyncd.service(8)).
const timesyncFile = "/run/systemd/timesync/synchronized"

// clockSync asks systemd-timesyncd's flag file, then the kernel (adjtimex
// read-only: modes 0), which chrony and ntpd keep informed.
func clockSync() Check {
	_, err := os.Stat(timesyncFile)
	timesyncd := err == nil
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	return clockCheck(timesyncd, state, tx.Status, int64(tx.Esterror), int64(tx.Maxerror), err)
}

func clockCheck(timesyncd bool, state int, status int32, esterror, maxerror int64, adjErr error) Check {
	c := Check{Name: "clock"}
	why := "the coordinator estimates each agent's clock offset, so sync is not required, but a clock stepped during a run shifts the fault instant"
	switch {
	case timesyncd:
		c.State, c.Detail = OK, "synchronized per systemd-timesyncd ("+timesyncFile+")"
	case adjErr != nil:
		c.State, c.Detail = Info, fmt.Sprintf("cannot read the kernel clock state (adjtimex): %v; %s", adjErr, why)
	case status&unix.STA_UNSYNC == 0 && state != unix.TIME_ERROR:
		c.State = OK
		c.Detail = fmt.Sprintf("kernel clock synchronized (adjtimex: estimated error %dµs, maximum error %dµs)", esterror, maxerror)
	default:
		c.State, c.Detail = Warn, "the kernel says the clock is not synchronized (adjtimex STA_UNSYNC); "+why
		c.Fix = "run an NTP client: sudo timedatectl set-ntp true (systemd-timesyncd) or install chrony"
	}
	return c
}

// icmpNote explains the unprivileged ICMP socket's permission on Linux:
// only groups inside net.ipv4.ping_group_range may open one ("1 0", the
// default, allows none, root included).
func icmpNote() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if err != nil {
		return ""
	}
	return pingGroupNote(string(b), os.Getegid())
}

func pingGroupNote(content string, gid int) string {
	f := strings.Fields(content)
	if len(f) != 2 {
		return ""
	}
	lo, err1 := strconv.ParseInt(f[0], 10, 64)
	hi, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return ""
	}
	in := "outside"
	if int64(gid) >= lo && int64(gid) <= hi {
		in = "inside"
	}
	return fmt.Sprintf("net.ipv4.ping_group_range = %d %d: gid %d is %s it", lo, hi, gid, in)
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
