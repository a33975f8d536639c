package observe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/kalab-dev/kalab/internal/tcpinfo"
)

// The sock_diag wire formats (man 7 sock_diag; include/uapi/linux/
// inet_diag.h). They are plain bytes, so this file builds on every OS and
// its tests run everywhere; only observe_linux.go sends them.

const (
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6 (Linux's number)

	ipprotoTCP = 6

	// inetDiagInfo is the INET_DIAG_INFO attribute (struct tcp_info) and
	// the bit asking for it in idiag_ext (1 << (INET_DIAG_INFO-1)).
	inetDiagInfo    = 2
	inetDiagInfoExt = 1 << (inetDiagInfo - 1)

	// inetDiagNoCookie is INET_DIAG_NOCOOKIE: match any socket cookie.
	inetDiagNoCookie = 0xffffffff

	sizeofDiagReq = 56 // struct inet_diag_req_v2
	sizeofDiagMsg = 72 // struct inet_diag_msg

	tcpListenState = 10 // TCP_LISTEN in tcp_states.h
)

// diagReq is struct inet_diag_req_v2 for one TCP socket: family,
// protocol, extensions, states and the inet_diag_sockid (ports big-endian,
// addresses in network order, the rest in host order).
type diagReq struct {
	family uint8
	ext    uint8
	states uint32
	local  netip.AddrPort // idiag_src/idiag_sport
	remote netip.AddrPort // idiag_dst/idiag_dport
}

// Len and Serialize make diagReq a netlink request payload
// (nl.NetlinkRequestData).
func (r *diagReq) Len() int { return sizeofDiagReq }

// Serialize writes the 56 bytes of inet_diag_req_v2.
func (r *diagReq) Serialize() []byte {
	b := make([]byte, sizeofDiagReq)
	b[0], b[1], b[2] = r.family, ipprotoTCP, r.ext
	binary.NativeEndian.PutUint32(b[4:], r.states)
	binary.BigEndian.PutUint16(b[8:], r.local.Port())
	binary.BigEndian.PutUint16(b[10:], r.remote.Port())
	putAddr(b[12:28], r.family, r.local.Addr())
	putAddr(b[28:44], r.family, r.remote.Addr())
	// idiag_if 0: any interface.
	binary.NativeEndian.PutUint32(b[48:], inetDiagNoCookie)
	binary.NativeEndian.PutUint32(b[52:], inetDiagNoCookie)
	return b
}

// putAddr writes a into a 16-byte idiag_src/idiag_dst: IPv4 in the first
// four bytes, IPv6 (IPv4 as mapped) in all sixteen.
func putAddr(dst []byte, family uint8, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	if family == afInet {
		v4 := a.Unmap().As4()
		copy(dst, v4[:])
		return
	}
	v6 := a.As16()
	copy(dst, v6[:])
}

// diagMsg is the part of one inet_diag_msg (and its INET_DIAG_INFO) that
// observe uses.
type diagMsg struct {
	family  uint8
	state   uint8
	timer   uint8
	retrans uint8
	local   netip.AddrPort
	remote  netip.AddrPort
	inode   uint32
	info    *tcpinfo.Info
}

// parseDiagMsg decodes the payload of one SOCK_DIAG_BY_FAMILY reply: the
// 72-byte inet_diag_msg, then rtattrs, of which INET_DIAG_INFO is struct
// tcp_info. at stamps the tcp_info ages (when the reply arrived).
func parseDiagMsg(b []byte, at time.Time) (diagMsg, error) {
	if len(b) < sizeofDiagMsg {
		return diagMsg{}, fmt.Errorf("inet_diag_msg: %d bytes, want %d", len(b), sizeofDiagMsg)
	}
	m := diagMsg{family: b[0], state: b[1], timer: b[2], retrans: b[3]}
	sport := binary.BigEndian.Uint16(b[4:])
	dport := binary.BigEndian.Uint16(b[6:])
	src, dst := b[8:24], b[24:40]
	switch m.family {
	case afInet:
		m.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(src[:4])), sport)
		m.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(dst[:4])), dport)
	case afInet6:
		m.local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(src)), sport)
		m.remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(dst)), dport)
	default:
		return diagMsg{}, fmt.Errorf("inet_diag_msg: family %d", m.family)
	}
	m.inode = binary.NativeEndian.Uint32(b[68:])
	for rest := b[sizeofDiagMsg:]; len(rest) >= 4; {
		l := int(binary.NativeEndian.Uint16(rest[0:]))
		typ := binary.NativeEndian.Uint16(rest[2:])
		if l < 4 || l > len(rest) {
			return m, errors.New("inet_diag_msg: malformed attribute")
		}
		if typ == inetDiagInfo {
			i, err := parseTCPInfo(rest[4:l], at)
			if err != nil {
				return m, err
			}
			m.info = &i
		}
		rest = rest[min((l+3)&^3, len(rest)):]
	}
	return m, nil
}

// parseTCPInfo reads the fields tcpinfo.Info holds from struct tcp_info
// (include/uapi/linux/tcp.h): u8 state, ca_state, retransmits, probes,
// backoff at 0..4; u32 rto at 8, last_data_sent at 44, last_data_recv at
// 52, last_ack_recv at 56 (ms), rtt at 68 (µs). Older kernels send a
// shorter struct; these offsets have been there since 2.6.
func parseTCPInfo(b []byte, at time.Time) (tcpinfo.Info, error) {
	if len(b) < 72 {
		return tcpinfo.Info{}, fmt.Errorf("tcp_info: %d bytes, want at least 72", len(b))
	}
	u32 := func(off int) uint32 { return binary.NativeEndian.Uint32(b[off:]) }
	return tcpinfo.Info{
		At:           at,
		State:        b[0],
		Retransmits:  b[2],
		Probes:       b[3],
		Backoff:      b[4],
		RTO:          time.Duration(u32(8)) * time.Microsecond,
		LastDataSent: time.Duration(u32(44)) * time.Millisecond,
		LastDataRecv: time.Duration(u32(52)) * time.Millisecond,
		LastAckRecv:  time.Duration(u32(56)) * time.Millisecond,
		RTT:          time.Duration(u32(68)) * time.Microsecond,
	}, nil
}

// linuxState names a tcp_states.h number.
func linuxState(n uint8) string {
	switch n {
	case 1:
		return stEstablished
	case 2:
		return stSynSent
	case 3, 12: // SYN_RECV, NEW_SYN_RECV (request socket)
		return stSynRecv
	case 4:
		return stFinWait1
	case 5:
		return stFinWait2
	case 6:
		return stTimeWait
	case 7:
		return stClose
	case 8:
		return stCloseWait
	case 9:
		return stLastAck
	case 10:
		return stListen
	case 11:
		return stClosing
	}
	return fmt.Sprintf("STATE_%d", n)
}

// linuxTimer names an idiag_timer value (man 7 sock_diag).
func linuxTimer(n uint8) string {
	switch n {
	case 0:
		return TimerNone
	case 1:
		return TimerRetransmit
	case 2:
		return TimerKeepalive
	case 3:
		return TimerTimeWait
	case 4:
		return TimerProbe0
	}
	return fmt.Sprintf("timer-%d", n)
}

// diagSample turns a reply into a sample.
func diagSample(m diagMsg, at time.Time) sample {
	return sample{At: at, Present: true, State: linuxState(m.state), Timer: linuxTimer(m.timer), Info: m.info, Inode: m.inode}
}
