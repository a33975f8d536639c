package tcpinfo

import (
	"time"

	"golang.org/x/sys/unix"
)

// get reads struct tcp_info (include/uapi/linux/tcp.h). tcpi_last_* are in
// milliseconds since the event (jiffies_to_msecs); tcpi_rto/rtt in µs.
func get(fd uintptr) (Info, error) {
	ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	at := time.Now()
	if err != nil {
		return Info{}, err
	}
	return Info{
		At:           at,
		State:        ti.State,
		LastAckRecv:  time.Duration(ti.Last_ack_recv) * time.Millisecond,
		LastDataRecv: time.Duration(ti.Last_data_recv) * time.Millisecond,
		LastDataSent: time.Duration(ti.Last_data_sent) * time.Millisecond,
		Probes:       ti.Probes,
		Retransmits:  ti.Retransmits,
		Backoff:      ti.Backoff,
		RTO:          time.Duration(ti.Rto) * time.Microsecond,
		RTT:          time.Duration(ti.Rtt) * time.Microsecond,
	}, nil
}
