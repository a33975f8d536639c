package keepalive

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/tcpinfo"
)

// DetectHZ finds the kernel's tick rate, which sets the timer wheel's
// granularity and so the exact Linux keepalive instants
// (docs/linux-lab.md §6). It reads CONFIG_HZ from the kernel config
// (/proc/config.gz, then /boot/config-<release>); failing that it infers the
// jiffy from TCP_INFO ages on a loopback connection, which the kernel
// reports as jiffies_to_msecs() and so come in multiples of 1000/HZ ms.
// source says which way was used.
func DetectHZ() (hz int, source string, err error) {
	if hz, src, ok := hzFromConfig(); ok {
		return hz, src, nil
	}
	hz, err = hzFromTCPInfo()
	if err != nil {
		return 0, "", fmt.Errorf("detect kernel HZ: no kernel config and %w", err)
	}
	return hz, "TCP_INFO jiffy resolution on loopback", nil
}

func hzFromConfig() (int, string, bool) {
	paths := []string{"/proc/config.gz", "/boot/config-" + LocalPlatform().Version}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		var r io.Reader = f
		if strings.HasSuffix(p, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			r = gz
		}
		hz, ok := parseConfigHZ(r)
		f.Close()
		if ok {
			return hz, p, true
		}
	}
	return 0, "", false
}

// parseConfigHZ finds "CONFIG_HZ=<n>" in a kernel config.
func parseConfigHZ(r io.Reader) (int, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONFIG_HZ="); ok {
			hz, err := strconv.Atoi(v)
			return hz, err == nil && hz > 0
		}
	}
	return 0, false
}

// hzFromTCPInfo samples tcpi_last_data_recv of an idle loopback connection
// at odd moments; the greatest common divisor of the samples is the jiffy
// in ms for HZ 100, 250 and 1000 (the common values).
func hzFromTCPInfo() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("loopback listen: %w", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, fmt.Errorf("loopback dial: %w", err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		return 0, fmt.Errorf("loopback accept: %w", err)
	}
	defer s.Close()
	if _, err := c.Write([]byte{1}); err != nil {
		return 0, err
	}
	g := 0
	for i := range 12 {
		time.Sleep(time.Duration(7+i*13) * time.Millisecond)
		info, err := tcpinfo.Get(s.(*net.TCPConn))
		if err != nil {
			return 0, err
		}
		g = gcd(g, int(info.LastDataRecv/time.Millisecond))
	}
	return jiffyToHZ(g)
}

func jiffyToHZ(jiffyMS int) (int, error) {
	switch jiffyMS {
	case 1:
		return 1000, nil
	case 4:
		return 250, nil
	case 10:
		return 100, nil
	}
	return 0, fmt.Errorf("TCP_INFO ages share a step of %d ms, which matches no common HZ", jiffyMS)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
