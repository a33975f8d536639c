package fault

import (
	"fmt"
	"os"
)

func osCapabilities() []Capability {
	drop := Capability{Kind: CapDrop}
	switch {
	case os.Geteuid() != 0:
		drop.Why = "needs root (CAP_NET_ADMIN) for nftables"
	default:
		if _, err := Tables(0); err != nil {
			drop.Why = fmt.Sprintf("nftables unavailable: %v", err)
		} else {
			drop.OK, drop.Why = true, "nftables table inet kalab"
		}
	}
	host := drop
	host.Kind = CapDropHost
	return []Capability{
		drop, host,
		{Kind: CapPause, OK: true, Why: "SIGSTOP/SIGCONT of the client child"},
		{Kind: CapKill, OK: true, Why: "SIGKILL of the client child"},
	}
}
