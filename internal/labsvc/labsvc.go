// Package labsvc runs real servers from Debian's packages — Redis,
// PostgreSQL, nginx — inside a lab host's network namespace, so that an
// experiment can measure what a real product does with keepalive instead of
// kalab's own server. A Service is started with short keepalive settings
// written into the product's own configuration, or with none (the product's
// defaults), listens only on the lab address it is given, keeps its data,
// configuration and log inside one directory, and is stopped leaving no
// process behind.
//
// What each product applies to the sockets it accepts, on Linux (Expected):
//
//   - Redis `tcp-keepalive N` (default 300): on every accepted client,
//     anetKeepAlive (src/anet.c) sets SO_KEEPALIVE, TCP_KEEPIDLE N,
//     TCP_KEEPINTVL N/3 in whole seconds (at least 1) and TCP_KEEPCNT 3.
//     N alone is configurable; 0 turns keepalive off.
//   - PostgreSQL: StreamConnection (src/backend/libpq/pqcomm.c) sets
//     SO_KEEPALIVE on every accepted TCP socket, then
//     pq_setkeepalivesidle/interval/count from tcp_keepalives_idle,
//     tcp_keepalives_interval and tcp_keepalives_count; 0 (the default)
//     leaves the kernel's value (the namespace's net.ipv4.tcp_keepalive_*
//     sysctls). tcp_user_timeout is left at its default 0.
//   - nginx: nothing by default (SO_KEEPALIVE stays off). `listen …
//     so_keepalive=idle:intvl:cnt` makes ngx_configure_listening_sockets
//     (src/core/ngx_connection.c) set SO_KEEPALIVE and TCP_KEEPIDLE,
//     TCP_KEEPINTVL, TCP_KEEPCNT on the LISTENING socket; Linux copies them
//     into every accepted socket (sk_clone_lock), nginx never touches the
//     accepted one.
package labsvc

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Product names a server kalab can start from Debian's packages.
type Product string

// The products, named as [target.lab] product names them.
const (
	Redis      Product = "redis"
	PostgreSQL Product = "postgresql"
	Nginx      Product = "nginx"
)

// Products lists every product Start knows, in a stable order.
var Products = []Product{Redis, PostgreSQL, Nginx}

// ErrNotInstalled is wrapped when a product's binary (or, for PostgreSQL,
// its system user) is missing; the message names the Debian package to
// install.
var ErrNotInstalled = errors.New("not installed")

// Package is the Debian package that ships the product.
func (p Product) Package() string {
	switch p {
	case Redis:
		return "redis-server"
	case PostgreSQL:
		return "postgresql"
	case Nginx:
		return "nginx"
	}
	return ""
}

// Process is the name of the program that owns the product's accepted
// sockets (the comm a socket table shows): [target] process.
func (p Product) Process() string {
	switch p {
	case Redis:
		return "redis-server"
	case PostgreSQL:
		return "postgres"
	case Nginx:
		return "nginx"
	}
	return ""
}

// DefaultPort is the product's usual TCP port, used when Spec.Port is 0.
func (p Product) DefaultPort() int {
	switch p {
	case Redis:
		return 6379
	case PostgreSQL:
		return 5432
	case Nginx:
		return 80
	}
	return 0
}

func (p Product) valid() bool { return p.Package() != "" }

// Keepalive is a keepalive configuration in kalab's terms. As Spec input a
// zero field leaves that value to the product's default (nil or all zero:
// the product's defaults throughout); from Expected and Applied the zero
// Keepalive means SO_KEEPALIVE is off on the accepted socket. It converts to
// keepalive.Settings with a plain conversion.
type Keepalive struct {
	// Idle is the idle time before the first probe (TCP_KEEPIDLE), in
	// whole seconds: every product's configuration counts in seconds.
	Idle time.Duration
	// Interval is the time between unanswered probes (TCP_KEEPINTVL), in
	// whole seconds. Redis derives it from Idle and cannot be given one.
	Interval time.Duration
	// Count is how many unanswered probes end the connection
	// (TCP_KEEPCNT). Redis fixes it at 3 and cannot be given one.
	Count int
}

// IsZero reports whether k sets nothing (as input) or says keepalive is off
// (as Expected's answer).
func (k Keepalive) IsZero() bool { return k == Keepalive{} }

// String writes "idle=3s interval=1s count=3", or "off" for the zero value.
func (k Keepalive) String() string {
	if k.IsZero() {
		return "off"
	}
	return fmt.Sprintf("idle=%s interval=%s count=%d", k.Idle, k.Interval, k.Count)
}

// Linux's limits on the three options (include/net/tcp.h MAX_TCP_KEEPIDLE,
// MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT): a product passes larger values to
// setsockopt, which refuses them, and the product merely logs that.
const (
	maxKeepSeconds = 32767
	maxKeepCount   = 127
)

// validate refuses what the product could not express, so that a caller
// never believes a setting was applied that was silently dropped.
func (k Keepalive) validate(p Product) error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"idle", k.Idle}, {"interval", k.Interval}} {
		if f.d < 0 || f.d%time.Second != 0 || f.d > maxKeepSeconds*time.Second {
			return fmt.Errorf("keepalive %s %s: whole seconds up to %ds (0 = the product's default)", f.name, f.d, maxKeepSeconds)
		}
	}
	if k.Count < 0 || k.Count > maxKeepCount {
		return fmt.Errorf("keepalive count %d: 0..%d (0 = the product's default)", k.Count, maxKeepCount)
	}
	if p == Redis && (k.Interval != 0 || k.Count != 0) {
		return errors.New("redis: tcp-keepalive takes only the idle time (Redis sets interval idle/3 and count 3 itself); leave interval and count zero")
	}
	return nil
}

// redisDefaultKeepalive is Redis's built-in tcp-keepalive (seconds) since
// 3.2.1, in effect when the configuration file does not set it.
const redisDefaultKeepalive = 300

// Spec says which product to start, where, and with which keepalive.
type Spec struct {
	// Product is the server to start.
	Product Product
	// Netns is the lab host's network namespace: a name under /run/netns
	// (lab.Host.Name) or an absolute path to a namespace file. Required:
	// a server is never started in the root namespace, which has no route
	// to the lab.
	Netns string
	// Addr is the only address the server listens on: the lab host's
	// address inside 198.18.0.0/15 (or loopback inside the namespace).
	Addr netip.Addr
	// Port is the TCP port; 0 means the product's usual port
	// (Product.DefaultPort), which is free in a fresh namespace.
	Port int
	// Keepalive is written into the product's configuration; nil or zero
	// fields leave the product's defaults.
	Keepalive *Keepalive
	// Dir is an existing directory the service owns for its data,
	// configuration and log; nothing is written outside it, and Stop
	// removes nothing (the caller removes Dir). For PostgreSQL, which
	// refuses to run as root, every directory above Dir must be searchable
	// by the postgres user (os.MkdirTemp's /tmp/x is; t.TempDir()'s nested
	// 0700 directories are not).
	Dir string
}

// keep returns the configured keepalive, zero when none.
func (s Spec) keep() Keepalive {
	if s.Keepalive == nil {
		return Keepalive{}
	}
	return *s.Keepalive
}

// port resolves Port 0 to the product's usual port.
func (s Spec) port() int {
	if s.Port == 0 {
		return s.Product.DefaultPort()
	}
	return s.Port
}

// configLines are the exact lines of the product's configuration that set
// keepalive, for the report; none when the product keeps its defaults.
func configLines(s Spec) []string {
	k := s.keep()
	if k.IsZero() {
		return nil
	}
	secs := func(d time.Duration) int { return int(d / time.Second) }
	switch s.Product {
	case Redis:
		return []string{fmt.Sprintf("tcp-keepalive %d", secs(k.Idle))}
	case PostgreSQL:
		var lines []string
		if k.Idle != 0 {
			lines = append(lines, fmt.Sprintf("tcp_keepalives_idle = %d", secs(k.Idle)))
		}
		if k.Interval != 0 {
			lines = append(lines, fmt.Sprintf("tcp_keepalives_interval = %d", secs(k.Interval)))
		}
		if k.Count != 0 {
			lines = append(lines, fmt.Sprintf("tcp_keepalives_count = %d", k.Count))
		}
		return lines
	case Nginx:
		return []string{nginxListen(s)}
	}
	return nil
}

// nginxListen is the server block's listen directive. so_keepalive leaves
// an empty field to the kernel's default, as nginx's own syntax does
// ("so_keepalive=30m::10").
func nginxListen(s Spec) string {
	line := "listen " + netip.AddrPortFrom(s.Addr, uint16(s.port())).String()
	if k := s.keep(); !k.IsZero() {
		field := func(v int) string {
			if v == 0 {
				return ""
			}
			return strconv.Itoa(v)
		}
		line += fmt.Sprintf(" so_keepalive=%s:%s:%s", field(int(k.Idle/time.Second)), field(int(k.Interval/time.Second)), field(k.Count))
	}
	return line + ";"
}

// expected is what the product applies to an accepted socket given its
// configuration, with kernel (the namespace's net.ipv4.tcp_keepalive_*
// sysctls) filling what the product leaves alone. See the package comment
// for the sources.
func expected(s Spec, kernel Keepalive) Keepalive {
	k := s.keep()
	or := func(v, def time.Duration) time.Duration {
		if v != 0 {
			return v
		}
		return def
	}
	switch s.Product {
	case Redis:
		n := int(k.Idle / time.Second)
		if n == 0 {
			n = redisDefaultKeepalive
		}
		// anetKeepAlive: interval = N/3 in integer seconds, never 0.
		return Keepalive{Idle: time.Duration(n) * time.Second, Interval: time.Duration(max(n/3, 1)) * time.Second, Count: 3}
	case PostgreSQL:
		cnt := k.Count
		if cnt == 0 {
			cnt = kernel.Count
		}
		return Keepalive{Idle: or(k.Idle, kernel.Idle), Interval: or(k.Interval, kernel.Interval), Count: cnt}
	case Nginx:
		if k.IsZero() {
			return Keepalive{}
		}
		cnt := k.Count
		if cnt == 0 {
			cnt = kernel.Count
		}
		return Keepalive{Idle: or(k.Idle, kernel.Idle), Interval: or(k.Interval, kernel.Interval), Count: cnt}
	}
	return Keepalive{}
}

var (
	redisVersionRE = regexp.MustCompile(`v=(\d+(?:\.\d+)+)`)
	pgVersionRE    = regexp.MustCompile(`\(PostgreSQL\) (\d+(?:\.\d+)+)`)
	nginxVersionRE = regexp.MustCompile(`nginx/(\d+(?:\.\d+)+)`)
)

// parseVersion turns the product's own version output (`redis-server
// --version`, `postgres --version`, `nginx -v`) into "redis-server 7.0.15",
// "PostgreSQL 15.18", "nginx 1.22.1"; unparsable output is returned
// trimmed, so the report still shows what the binary said.
func parseVersion(p Product, out string) string {
	var re *regexp.Regexp
	var name string
	switch p {
	case Redis:
		re, name = redisVersionRE, "redis-server"
	case PostgreSQL:
		re, name = pgVersionRE, "PostgreSQL"
	case Nginx:
		re, name = nginxVersionRE, "nginx"
	}
	if re != nil {
		if m := re.FindStringSubmatch(out); m != nil {
			return name + " " + m[1]
		}
	}
	return strings.TrimSpace(out)
}

// validate checks what can be checked without touching the machine.
func (s Spec) validate() error {
	if !s.Product.valid() {
		return fmt.Errorf("product %q: want redis, postgresql or nginx", s.Product)
	}
	if s.Netns == "" {
		return errors.New("no network namespace: a server runs only inside a lab host")
	}
	if !s.Addr.Is4() {
		return fmt.Errorf("address %v: want the lab host's IPv4 address", s.Addr)
	}
	if p := s.port(); p < 1 || p > 65535 {
		return fmt.Errorf("port %d: 1..65535 (0 = the product's usual port)", s.Port)
	}
	if s.Dir == "" {
		return errors.New("no directory for the service's data, configuration and log")
	}
	return s.keep().validate(s.Product)
}

// ExpectedFor is what product applies to accepted sockets when its
// configuration sets k (nil: its defaults) and the host's kernel defaults
// are kernel: the plan's prediction before any socket exists. The zero
// Keepalive means keepalive is off (nginx without so_keepalive).
func ExpectedFor(p Product, k *Keepalive, kernel Keepalive) Keepalive {
	return expected(Spec{Product: p, Keepalive: k}, kernel)
}
