package role

import (
	"errors"
	"fmt"
	"syscall"
)

// Winsock errors a keepalive server can see in recv (MS docs, recv/WSARecv
// return values).
var winsockNames = map[syscall.Errno]string{
	10052: "WSAENETRESET",
	10053: "WSAECONNABORTED",
	10054: "WSAECONNRESET",
	10060: "WSAETIMEDOUT",
}

func errnoOf(err error) (int, string) {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return 0, ""
	}
	if n, ok := winsockNames[e]; ok {
		return int(e), n
	}
	return int(e), fmt.Sprintf("WSA%d", int(e))
}
