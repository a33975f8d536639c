package keepalive

// localRetransmitLimits reads net.ipv4.tcp_retries2, tcp_rto_min_us,
// tcp_rto_max_ms and tcp_early_retrans from /proc/sys (this network
// namespace's values).
func localRetransmitLimits() (RetransmitLimits, error) {
	return linuxLimitsFrom("/proc/sys/net/ipv4")
}
