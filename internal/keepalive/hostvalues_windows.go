package keepalive

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/windows/registry"
)

// tcpipParameters is where Windows keeps TcpMaxDataRetransmissions
// (HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters).
const tcpipParameters = `SYSTEM\CurrentControlSet\Services\Tcpip\Parameters`

// localRetransmitLimits reads TcpMaxDataRetransmissions from the registry;
// absent means the default (5), which is what Windows uses then. MinRto
// lives in the TCP templates (Get-NetTCPSetting), not the registry, and
// keeps its default.
func localRetransmitLimits() (RetransmitLimits, error) {
	l, _ := RetransmitDefaults(Platform{OS: "windows"})
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, tcpipParameters, registry.QUERY_VALUE)
	if err != nil {
		return l, fmt.Errorf(`open HKLM\%s: %w`, tcpipParameters, err)
	}
	defer k.Close()
	v, _, err := k.GetIntegerValue("TcpMaxDataRetransmissions")
	switch {
	case errors.Is(err, registry.ErrNotExist):
		return l, nil
	case err != nil:
		return l, fmt.Errorf(`read HKLM\%s\TcpMaxDataRetransmissions: %w`, tcpipParameters, err)
	case v > maxFirings:
		return l, fmt.Errorf(`HKLM\%s\TcpMaxDataRetransmissions = %d is beyond what kalab models (0..%d)`, tcpipParameters, v, maxFirings)
	}
	l.Retries = int(v)
	l.set("", "TcpMaxDataRetransmissions", strconv.FormatUint(v, 10), SourceRegistry)
	return l, nil
}
