package observe

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// TestDiagReqSerialize: the request is struct inet_diag_req_v2 as the
// kernel reads it (man 7 sock_diag): ports big-endian, addresses in
// network order, IPv4 in the first 4 bytes, no cookie.
func TestDiagReqSerialize(t *testing.T) {
	r := diagReq{family: afInet, ext: inetDiagInfoExt, states: 0xfff,
		local: netip.MustParseAddrPort("10.0.0.5:6379"), remote: netip.MustParseAddrPort("10.0.0.9:50000")}
	b := r.Serialize()
	if len(b) != r.Len() || len(b) != 56 {
		t.Fatalf("%d bytes, Len %d, want 56", len(b), r.Len())
	}
	want := map[string][2][]byte{
		"family/proto/ext": {b[0:3], {afInet, 6, 2}},
		"sport":            {b[8:10], {0x18, 0xeb}},
		"dport":            {b[10:12], {0xc3, 0x50}},
		"src":              {b[12:28], append([]byte{10, 0, 0, 5}, make([]byte, 12)...)},
		"dst":              {b[28:44], append([]byte{10, 0, 0, 9}, make([]byte, 12)...)},
		"if":               {b[44:48], {0, 0, 0, 0}},
		"cookie":           {b[48:56], bytes.Repeat([]byte{0xff}, 8)},
	}
	for name, w := range want {
		if !bytes.Equal(w[0], w[1]) {
			t.Errorf("%s = % x, want % x", name, w[0], w[1])
		}
	}
	if got := binary.NativeEndian.Uint32(b[4:]); got != 0xfff {
		t.Errorf("states %#x", got)
	}
	r6 := diagReq{family: afInet6, local: netip.MustParseAddrPort("[2001:db8::5]:1"), remote: netip.MustParseAddrPort("[::ffff:10.0.0.9]:2")}
	b = r6.Serialize()
	if b[12] != 0x20 || b[27] != 5 || b[38] != 0xff || b[43] != 9 {
		t.Errorf("IPv6 addresses % x", b[12:44])
	}
}

// diagReply builds an inet_diag_msg with an INET_DIAG_INFO attribute, as
// the kernel sends it.
func diagReply(family, state, timer uint8, local, remote netip.AddrPort, inode uint32, info []byte) []byte {
	b := make([]byte, sizeofDiagMsg)
	b[0], b[1], b[2] = family, state, timer
	binary.BigEndian.PutUint16(b[4:], local.Port())
	binary.BigEndian.PutUint16(b[6:], remote.Port())
	putAddr(b[8:24], family, local.Addr())
	putAddr(b[24:40], family, remote.Addr())
	binary.NativeEndian.PutUint32(b[68:], inode)
	if info != nil {
		attr := make([]byte, 4, 4+len(info)+3)
		binary.NativeEndian.PutUint16(attr[0:], uint16(4+len(info)))
		binary.NativeEndian.PutUint16(attr[2:], inetDiagInfo)
		attr = append(attr, info...)
		for len(attr)%4 != 0 {
			attr = append(attr, 0)
		}
		b = append(b, attr...)
	}
	return b
}

// TestParseDiagMsg decodes replies for both families, with and without
// tcp_info, into samples.
func TestParseDiagMsg(t *testing.T) {
	info := make([]byte, 104) // longer than parsed, as newer kernels send
	info[0], info[2], info[3], info[4] = 1, 0, 2, 0
	binary.NativeEndian.PutUint32(info[8:], 204000) // rto µs
	binary.NativeEndian.PutUint32(info[52:], 3000)  // last_data_recv ms
	binary.NativeEndian.PutUint32(info[56:], 1500)  // last_ack_recv ms
	binary.NativeEndian.PutUint32(info[68:], 42)    // rtt µs
	at := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	l4, r4 := netip.MustParseAddrPort("127.0.0.1:6379"), netip.MustParseAddrPort("127.0.0.1:50000")
	l6, r6 := netip.MustParseAddrPort("[::ffff:127.0.0.1]:6379"), netip.MustParseAddrPort("[::ffff:127.0.0.1]:50000")

	m, err := parseDiagMsg(diagReply(afInet, 1, 2, l4, r4, 777, info), at)
	if err != nil {
		t.Fatal(err)
	}
	if m.local != l4 || m.remote != r4 || m.inode != 777 || m.info == nil {
		t.Fatalf("msg %+v", m)
	}
	s := diagSample(m, at)
	if s.State != stEstablished || s.Timer != TimerKeepalive || s.Info.Probes != 2 || s.Info.RTO != 204*time.Millisecond ||
		s.Info.RTT != 42*time.Microsecond || !s.Info.LastPeerActivity().Equal(at.Add(-1500*time.Millisecond)) {
		t.Errorf("sample %+v info %+v", s, s.Info)
	}
	// A dual-stack socket answers in AF_INET6 with mapped addresses; it is
	// the configured IPv4 connection.
	m, err = parseDiagMsg(diagReply(afInet6, 6, 3, l6, r6, 0, nil), at)
	if err != nil {
		t.Fatal(err)
	}
	if !sameConn(l4, r4, m.local, m.remote) || m.info != nil || diagSample(m, at).State != stTimeWait || diagSample(m, at).Timer != TimerTimeWait {
		t.Errorf("IPv6 msg %+v", m)
	}
	if _, err := parseDiagMsg(make([]byte, 10), at); err == nil {
		t.Error("a short message was accepted")
	}
	if _, err := parseDiagMsg(diagReply(afInet, 1, 0, l4, r4, 1, make([]byte, 40)), at); err == nil {
		t.Error("a short tcp_info was accepted")
	}
}

// TestStateNames: every tcp_states.h and idiag_timer value has a name.
func TestStateNames(t *testing.T) {
	for n, want := range map[uint8]string{1: stEstablished, 4: stFinWait1, 5: stFinWait2, 6: stTimeWait, 7: stClose, 8: stCloseWait, 9: stLastAck, 10: stListen, 11: stClosing, 12: stSynRecv, 99: "STATE_99"} {
		if got := linuxState(n); got != want {
			t.Errorf("linuxState(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[uint8]string{0: TimerNone, 1: TimerRetransmit, 2: TimerKeepalive, 3: TimerTimeWait, 4: TimerProbe0} {
		if got := linuxTimer(n); got != want {
			t.Errorf("linuxTimer(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[uint32]string{1: stClose, 2: stListen, 5: stEstablished, 6: stFinWait1, 7: stFinWait2, 8: stCloseWait, 9: stClosing, 10: stLastAck, 11: stTimeWait, 12: stClose} {
		if got := windowsState(n); got != want {
			t.Errorf("windowsState(%d) = %q, want %q", n, got, want)
		}
	}
	for in, want := range map[string]string{"FIN_WAIT_1": stFinWait1, "FIN_WAIT_2": stFinWait2, "SYN_RECEIVED": stSynRecv, "CLOSED": stClose, "ESTABLISHED": stEstablished, "TIME_WAIT": stTimeWait} {
		if got := darwinState(in); got != want {
			t.Errorf("darwinState(%q) = %q, want %q", in, got, want)
		}
	}
}
