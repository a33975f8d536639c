// Package observe watches the server side of a TCP connection that belongs
// to someone else's program (the target: redis-server, postgres, nginx or
// any TCP service) and records the same anchors kalab's own server role
// records (internal/role): when the peer was last heard from (T0), when
// each unanswered keepalive probe went out, when the connection ended and
// how. It reads the kernel's socket table only. It never attaches to the
// target (no ptrace stop, no injected code), never sets an option on the
// target's socket and never keeps a reference to it: a reference held by
// kalab would keep the socket open after the target closed it, and the
// kernel would not send the FIN the target meant to send.
//
// Config.Events, when set, is told the same live events kalab's own
// server role tells (wire.Event* kinds, role.EventFunc is EventFunc): the
// options read back, each forward move of T0, each newly unanswered probe,
// and last the detection (the peer ended the connection: ETIMEDOUT,
// ECONNRESET, EOF) or the end (the target closed first, the cause cannot
// be told, the TTL or Close), so an interactive session against a real
// service shows the same timeline.
//
// What each OS gives:
//
//   - Linux: the connection's row from the sock_diag netlink interface
//     (exact 4-tuple lookup, SOCK_DIAG_BY_FAMILY with INET_DIAG_INFO), so
//     state, idiag_timer and struct tcp_info (ages of the last ACK and data,
//     unanswered probes, retransmissions) at every poll. The target's
//     effective keepalive options are read from its own socket: the owning
//     process is the one whose /proc/<pid>/fd links to socket:[inode],
//     pidfd_open + pidfd_getfd give kalab a duplicate of that descriptor,
//     getsockopt reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
//     TCP_KEEPCNT and TCP_USER_TIMEOUT from it, and the duplicate is closed
//     at once. Reading options does not change them; SO_ERROR is never read
//     because reading it clears the error the target has yet to see.
//     pidfd_getfd needs Linux ≥ 5.6 and ptrace-access permission on the
//     target (root); without it the options are unknown, with the reason.
//   - Windows: the IPv4/IPv6 TCP tables of GetExtendedTcpTable
//     (TCP_TABLE_OWNER_PID_ALL): state, owning PID, disappearance. No
//     per-connection timers or ages, and another process's socket options
//     cannot be read: T0, probes and the options are unknown.
//   - macOS: `netstat -anv -p tcp` (run directly, no shell): state, owning
//     PID, disappearance; the same unknowns as Windows.
//   - Elsewhere: an unsupported.On error.
//
// Public sources relied on: man 7 sock_diag (inet_diag_req_v2,
// inet_diag_msg, idiag_timer values, exact lookup without NLM_F_DUMP),
// include/uapi/linux/inet_diag.h and include/uapi/linux/tcp.h (struct
// tcp_info layout), include/net/tcp_states.h (state numbers),
// pidfd_open(2) and pidfd_getfd(2), proc(5) (/proc/<pid>/fd, comm),
// Microsoft Learn: GetExtendedTcpTable, MIB_TCPTABLE_OWNER_PID,
// MIB_TCPROW_OWNER_PID, MIB_TCP6ROW_OWNER_PID and MIB_TCP_STATE
// (learn.microsoft.com/windows/win32/api/iphlpapi and .../api/tcpmib), and
// netstat(1) on macOS with Apple's network_cmds netstat.tproj (-a all
// sockets, -n numeric, -v the rhiwat/shiwat/pid or process:pid columns).
package observe
