package labsvc

import (
	"encoding/binary"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

var linuxDefaults = Keepalive{Idle: sec(7200), Interval: sec(75), Count: 9}

// TestConfigFiles pins every file Start writes, per product, with short
// keepalive and with the defaults (go test -update rewrites them).
func TestConfigFiles(t *testing.T) {
	base := Spec{Netns: "h1", Addr: netip.MustParseAddr("198.18.0.1"), Dir: "/DIR"}
	short := map[Product]*Keepalive{
		Redis:      {Idle: sec(3)},
		PostgreSQL: {Idle: sec(2), Interval: sec(1), Count: 3},
		Nginx:      {Idle: sec(2), Interval: sec(1), Count: 3},
	}
	render := map[Product]func(Spec) string{Redis: redisConf, PostgreSQL: postgresConf, Nginx: nginxConf}
	for _, p := range Products {
		for _, mode := range []string{"short", "defaults"} {
			s := base
			s.Product = p
			if mode == "short" {
				s.Keepalive = short[p]
			}
			golden(t, string(p)+"-"+mode+".golden", render[p](s))
		}
	}
	golden(t, "pg_hba.conf.golden", postgresHBA())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// TestExpected: what each product applies, from its source (package
// comment), for whole and partial configurations.
func TestExpected(t *testing.T) {
	for _, tt := range []struct {
		p    Product
		keep *Keepalive
		want Keepalive
	}{
		{Redis, nil, Keepalive{sec(300), sec(100), 3}},
		{Redis, &Keepalive{Idle: sec(3)}, Keepalive{sec(3), sec(1), 3}},
		{Redis, &Keepalive{Idle: sec(4)}, Keepalive{sec(4), sec(1), 3}}, // integer seconds: 4/3 = 1, not 1.33 s
		{Redis, &Keepalive{Idle: sec(2)}, Keepalive{sec(2), sec(1), 3}}, // 2/3 = 0, raised to 1
		{Redis, &Keepalive{Idle: sec(10)}, Keepalive{sec(10), sec(3), 3}},
		{PostgreSQL, nil, linuxDefaults},
		{PostgreSQL, &Keepalive{Idle: sec(2), Interval: sec(1), Count: 3}, Keepalive{sec(2), sec(1), 3}},
		{PostgreSQL, &Keepalive{Idle: sec(5)}, Keepalive{sec(5), sec(75), 9}},
		{Nginx, nil, Keepalive{}},
		{Nginx, &Keepalive{}, Keepalive{}},
		{Nginx, &Keepalive{Idle: sec(2), Interval: sec(1), Count: 3}, Keepalive{sec(2), sec(1), 3}},
		{Nginx, &Keepalive{Count: 4}, Keepalive{sec(7200), sec(75), 4}},
	} {
		s := Spec{Product: tt.p, Keepalive: tt.keep}
		if got := expected(s, linuxDefaults); got != tt.want {
			t.Errorf("%s %v: expected %s, want %s", tt.p, tt.keep, got, tt.want)
		}
	}
}

func TestConfigLines(t *testing.T) {
	addr := netip.MustParseAddr("198.18.3.1")
	for _, tt := range []struct {
		p    Product
		port int
		keep *Keepalive
		want string
	}{
		{Redis, 0, nil, ""},
		{Redis, 0, &Keepalive{Idle: sec(3)}, "tcp-keepalive 3"},
		{PostgreSQL, 0, &Keepalive{Idle: sec(2), Interval: sec(1), Count: 3}, "tcp_keepalives_idle = 2|tcp_keepalives_interval = 1|tcp_keepalives_count = 3"},
		{PostgreSQL, 0, &Keepalive{Count: 5}, "tcp_keepalives_count = 5"},
		{Nginx, 0, nil, ""},
		{Nginx, 8080, &Keepalive{Idle: sec(2), Interval: sec(1), Count: 3}, "listen 198.18.3.1:8080 so_keepalive=2:1:3;"},
		{Nginx, 0, &Keepalive{Idle: sec(1800), Count: 10}, "listen 198.18.3.1:80 so_keepalive=1800::10;"},
	} {
		got := strings.Join(configLines(Spec{Product: tt.p, Addr: addr, Port: tt.port, Keepalive: tt.keep}), "|")
		if got != tt.want {
			t.Errorf("%s %v: %q, want %q", tt.p, tt.keep, got, tt.want)
		}
	}
}

// TestParseVersion: the products' real outputs (Debian 12's packages).
func TestParseVersion(t *testing.T) {
	for _, tt := range []struct {
		p         Product
		out, want string
	}{
		{Redis, "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n", "redis-server 7.0.15"},
		{PostgreSQL, "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "PostgreSQL 15.18"},
		{Nginx, "nginx version: nginx/1.22.1\n", "nginx 1.22.1"},
		{Nginx, "  something else\n", "something else"},
	} {
		if got := parseVersion(tt.p, tt.out); got != tt.want {
			t.Errorf("parseVersion(%s, %q) = %q, want %q", tt.p, tt.out, got, tt.want)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{Product: Redis, Netns: "h1", Addr: netip.MustParseAddr("198.18.0.1"), Dir: "/tmp/x"}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"product", func(s *Spec) { s.Product = "mysql" }, "want redis, postgresql or nginx"},
		{"netns", func(s *Spec) { s.Netns = "" }, "no network namespace"},
		{"addr", func(s *Spec) { s.Addr = netip.Addr{} }, "IPv4"},
		{"port", func(s *Spec) { s.Port = 70000 }, "1..65535"},
		{"dir", func(s *Spec) { s.Dir = "" }, "no directory"},
		{"fraction", func(s *Spec) { s.Keepalive = &Keepalive{Idle: 1500 * time.Millisecond} }, "whole seconds"},
		{"too long", func(s *Spec) { s.Keepalive = &Keepalive{Idle: sec(40000)} }, "whole seconds up to 32767s"},
		{"count", func(s *Spec) { s.Product, s.Keepalive = Nginx, &Keepalive{Count: 128} }, "0..127"},
		{"redis count", func(s *Spec) { s.Keepalive = &Keepalive{Idle: sec(3), Count: 3} }, "only the idle time"},
	} {
		s := ok
		tt.edit(&s)
		err := s.validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want it to say %q", tt.name, err, tt.want)
		}
	}
}

// TestHello: PostgreSQL's hello is a well-formed StartupMessage (length,
// protocol 3.0, key/value pairs ending in an empty key).
func TestHello(t *testing.T) {
	send, expect := PostgreSQL.Hello()
	if n := binary.BigEndian.Uint32([]byte(send)); int(n) != len(send) {
		t.Errorf("startup length field %d, message %d bytes", n, len(send))
	}
	if v := binary.BigEndian.Uint32([]byte(send[4:])); v != 196608 {
		t.Errorf("protocol %d, want 196608 (3.0)", v)
	}
	if !strings.HasSuffix(send, "database\x00postgres\x00\x00") || expect[0] != 'R' || len(expect) != 9 {
		t.Errorf("hello %q, expect %q", send, expect)
	}
	for _, p := range Products {
		if s, e := p.Hello(); s == "" || e == "" || len(s) > 256 || len(e) > 64 {
			t.Errorf("%s: hello %q expect %q: empty or beyond [target]'s 256/64 bytes", p, s, e)
		}
		if p.Package() == "" || p.Process() == "" || p.DefaultPort() == 0 {
			t.Errorf("%s: package %q process %q port %d", p, p.Package(), p.Process(), p.DefaultPort())
		}
	}
}

func TestKeepaliveString(t *testing.T) {
	if got := (Keepalive{}).String(); got != "off" {
		t.Errorf("zero: %q", got)
	}
	if got := (Keepalive{sec(3), sec(1), 3}).String(); got != "idle=3s interval=1s count=3" {
		t.Errorf("3/1/3: %q", got)
	}
	// The doc's promise: a plain conversion to the rest of kalab's type.
	if s := keepalive.Settings(Keepalive{sec(3), sec(1), 3}); s.Short() != "3s/1s/3" {
		t.Errorf("as keepalive.Settings: %s", s.Short())
	}
}
