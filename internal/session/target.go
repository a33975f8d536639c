package session

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/labrun"
	"github.com/kalab-dev/kalab/internal/labsvc"
)

// A session's --target is either a TCP port of a service on the server
// agent's host (real hosts: --hello and --expect say how to greet it), or,
// with --lab, a product name the lab starts from Debian's package on
// lab-agent-1 (redis, postgresql, nginx: its hello and expect are known).

// IsProduct says whether target names a product the lab can start.
func IsProduct(target string) bool {
	for _, p := range labsvc.Products {
		if string(p) == target {
			return true
		}
	}
	return false
}

// KeeperArgs are the lab keeper's flags for --target: the product and the
// keepalive settings the user gave (changed says which; the others stay
// the product's defaults, some of which it cannot change: Redis derives
// its interval and count).
func KeeperArgs(target string, set keepalive.Settings, changed func(flag string) bool) []string {
	if target == "" {
		return nil
	}
	args := []string{"--target", target}
	if changed("idle") {
		args = append(args, "--idle", set.Idle.String())
	}
	if changed("interval") {
		args = append(args, "--interval", set.Interval.String())
	}
	if changed("count") {
		args = append(args, "--count", strconv.Itoa(set.Count))
	}
	return args
}

// LabService is the service a keeper starts for --target product on
// lab-agent-1, with the keepalive given (zero: the product's default).
func LabService(product string, idle, interval time.Duration, count int) (*labrun.Service, error) {
	if !IsProduct(product) {
		return nil, fmt.Errorf("--target %q with --lab: allowed %s", product, productNames())
	}
	p := labsvc.Product(product)
	svc := &labrun.Service{Agent: "lab-agent-1", Product: p, Port: p.DefaultPort()}
	if idle > 0 || interval > 0 || count > 0 {
		svc.Keepalive = &labsvc.Keepalive{Idle: idle, Interval: interval, Count: count}
	}
	return svc, nil
}

func productNames() string {
	var ns []string
	for _, p := range labsvc.Products {
		ns = append(ns, string(p))
	}
	return strings.Join(ns, ", ")
}

// Target turns --target, --hello, --expect and --process into the
// session's target; k is the session's lab (nil on real hosts), whose
// started service a product name refers to. hello and expect take Go
// escapes (\r\n, \x00).
func Target(target, hello, expect, process string, k *Lab) (*experiment.SessionTarget, error) {
	if target == "" {
		return nil, nil
	}
	if IsProduct(target) {
		if k == nil {
			return nil, fmt.Errorf("--target %s names a product the lab starts: add --lab, or give the service's port on the server's host", target)
		}
		p := labsvc.Product(target)
		svc, err := k.Service()
		if err != nil {
			return nil, err
		}
		send, want := p.Hello()
		return &experiment.SessionTarget{Port: p.DefaultPort(), Process: p.Process(), Hello: send, Expect: want, Lab: svc}, nil
	}
	port, err := strconv.Atoi(target)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("--target %q: a TCP port 1..65535 of the service on the server agent's host, or with --lab one of %s", target, productNames())
	}
	t := &experiment.SessionTarget{Port: port, Process: process}
	for _, f := range []struct {
		name, in string
		out      *string
	}{{"--hello", hello, &t.Hello}, {"--expect", expect, &t.Expect}} {
		if *f.out, err = strconv.Unquote(`"` + strings.ReplaceAll(f.in, `"`, `\"`) + `"`); err != nil {
			return nil, fmt.Errorf("%s %q: %w (Go escapes such as \\r\\n and \\x00 are allowed)", f.name, f.in, err)
		}
	}
	return t, nil
}
