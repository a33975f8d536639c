package experiment

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/labsvc"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// Target is the [target] table: instead of kalab's own server role, a
// real service (Redis, PostgreSQL, nginx, anyone's daemon) is the server.
// The client agent connects to it, optionally exchanges a hello, then goes
// silent as usual; the agent on the target's host observes the target's
// side of the connection through the kernel's socket table, never
// attaching to or changing the target.
type Target struct {
	// Agent is the node name of the agent on the target's host: it
	// observes the target's sockets, and its advertised address with Port
	// is where the client connects. Required unless Address is given.
	Agent string `toml:"agent"`
	// Port is the service's TCP port on that address. Required with
	// Agent, 1..65535.
	Port int `toml:"port"`
	// Address is the ip:port of a service with no agent on its host (a
	// managed database, a load balancer), instead of Agent and Port: only
	// with Bisect, and only if the client agents' own configs list it in
	// their targets.
	Address string `toml:"address"`
	// OS is the OS the service at Address runs, for the model: "linux"
	// (default), "windows" or "darwin". Only with Address.
	OS string `toml:"os"`
	// Process names the program that owns the listening socket, for the
	// report ("redis-server"); optional: the agent reads the owner from the
	// socket table, and a mismatch is noted, not fatal.
	Process string `toml:"process"`
	// Hello is what the client sends right after connecting (TOML string
	// escapes allowed: "PING\r\n", "\u0000…" for binary protocols);
	// optional, at most 256 bytes (wire.MaxHello).
	Hello string `toml:"hello"`
	// Expect is a prefix the service's reply must start with before the
	// client goes silent ("+PONG"); optional, at most 64 bytes
	// (wire.MaxExpect), only with Hello.
	Expect string `toml:"expect"`
	// Lab, with --lab, makes the lab start the service itself on the
	// target agent's host, from Debian's package; ignored on real hosts.
	Lab *TargetLab `toml:"lab"`
	// Bisect measures the service without watching its sockets: the client
	// silences itself for an outage D right after its hello, heals, sends
	// the hello again and sees whether the service still answers; a binary
	// search over D brackets the service's detection time. Results are
	// marked method "bisection" with the bracket, never a point.
	Bisect *Bisect `toml:"bisect"`
}

// Bisect is the [target.bisect] table: the outages searched.
type Bisect struct {
	// Min is an outage the service is expected to survive and Max one it
	// is expected to detect; both are tried first. Required, 100ms..1h,
	// Min < Max.
	Min time.Duration `toml:"min"`
	Max time.Duration `toml:"max"`
	// Resolution is how narrow the bracket must get (default 250ms;
	// 50ms..(Max−Min)/2).
	Resolution time.Duration `toml:"resolution"`
}

// Trials is how many outages the search tries at most: both bounds, then
// halvings until the bracket is no wider than Resolution.
func (b Bisect) Trials() int {
	n := 2
	for w := b.Max - b.Min; w > b.Resolution; w /= 2 {
		n++
	}
	return n
}

// TargetLab is the [target.lab] table: which service the lab starts and
// the keepalive its configuration sets (none of idle, interval, count: the
// service's defaults).
type TargetLab struct {
	// Product is "redis", "postgresql" or "nginx". Required.
	Product string `toml:"product"`
	// Idle, Interval and Count are written into the service's
	// configuration in its own terms (Redis tcp-keepalive takes only the
	// idle time and derives the rest); all absent = the service's defaults.
	Idle     time.Duration `toml:"idle"`
	Interval time.Duration `toml:"interval"`
	Count    int           `toml:"count"`
}

// Products are the services the lab can start (internal/labsvc).
var Products = []string{"redis", "postgresql", "nginx"}

// HasKeepalive reports whether the lab's configuration sets keepalive.
func (l TargetLab) HasKeepalive() bool { return l.Idle != 0 || l.Interval != 0 || l.Count != 0 }

// targetDocs are the [target] keys for keyDocs.
var targetDocs = []keyDoc{
	{"target", "a [target] table with agent, port, process, hello, expect and lab", "[target]"},
	{"target.agent", "the node name of the agent on the service's host", `agent = "db-1"`},
	{"target.port", "an integer 1..65535", "port = 6379"},
	{"target.address", "the ip:port of a service with no agent on its host (only with [target.bisect])", `address = "192.0.2.30:5432"`},
	{"target.os", `"linux", "windows" or "darwin" (only with address)`, `os = "linux"`},
	{"target.process", "the name of the program that owns the listening socket", `process = "redis-server"`},
	{"target.hello", "a string of at most 256 bytes the client sends after connecting", `hello = "PING\r\n"`},
	{"target.expect", "a prefix of at most 64 bytes the reply must start with (only with hello)", `expect = "+PONG"`},
	{"target.lab", "a [target.lab] table with product, idle, interval and count", "[target.lab]"},
	{"target.lab.product", `"redis", "postgresql" or "nginx"`, `product = "redis"`},
	{"target.lab.idle", "a duration in whole seconds, 1s..32767s", `idle = "2s"`},
	{"target.lab.interval", "a duration in whole seconds, 1s..32767s", `interval = "1s"`},
	{"target.lab.count", "an integer 1..127", "count = 3"},
	{"target.bisect", "a [target.bisect] table with min, max and resolution", "[target.bisect]"},
	{"target.bisect.min", "a duration 100ms..1h below max: an outage the service survives", `min = "1s"`},
	{"target.bisect.max", "a duration up to 1h above min: an outage the service detects", `max = "20s"`},
	{"target.bisect.resolution", "a duration 50ms..(max−min)/2", `resolution = "250ms"`},
}

// validateTarget checks [target]: what it needs, and what it rules out
// (the target decides its own keepalive: no [[settings]]; kalab's own
// server's scenarios, holds and one-way echoes do not apply).
func (c *Config) validateTarget() error {
	t := c.Target
	key := func(k string) []string { return []string{"target", k} }
	if t.Address != "" {
		if err := c.validateAddress(); err != nil {
			return err
		}
	} else if t.Agent == "" {
		return c.errorAt(c.keyLine([]string{"target"}, -1), "target.agent is required", "the node name of the agent on the service's host (or address, for a service without one)", `agent = "db-1"`)
	} else if t.Port < 1 || t.Port > 65535 {
		return c.fieldErr(key("port"), -1, t.Port, "1..65535", "port = 6379")
	} else if t.OS != "" {
		return c.fieldErr(key("os"), -1, quote(t.OS), "no os with agent: the agent says what its host runs", "remove os")
	}
	if len(t.Hello) > wire.MaxHello {
		return c.fieldErr(key("hello"), -1, fmt.Sprintf("%d bytes", len(t.Hello)), fmt.Sprintf("at most %d bytes (a command must fit a gossip query)", wire.MaxHello), "shorten hello")
	}
	if len(t.Expect) > wire.MaxExpect || (t.Expect != "" && t.Hello == "") {
		return c.fieldErr(key("expect"), -1, quote(t.Expect), fmt.Sprintf("a prefix of at most %d bytes, only with hello", wire.MaxExpect), `hello = "PING\r\n"`)
	}
	if len(c.Settings) > 0 {
		return c.errorAt(c.keyLine([]string{"settings"}, 0), "[[settings]] with a [target]", "no [[settings]]: the target sets its own keepalive (kalab reads it back from the target's socket)",
			"remove the [[settings]] tables (with --lab, set the service's keepalive in [target.lab])")
	}
	for i, f := range c.Faults {
		if f.Hold > 0 {
			return c.fieldErr([]string{"faults", "hold"}, i, f.Hold, "no hold with a [target]: surviving is proven by an echo only kalab's own server answers", "remove hold")
		}
	}
	if b := t.Bisect; b != nil {
		if b.Resolution == 0 {
			b.Resolution = 250 * time.Millisecond
		}
		if err := c.validateBisect(*b); err != nil {
			return err
		}
	}
	if l := t.Lab; l != nil {
		if !slices.Contains(Products, l.Product) {
			return c.fieldErr([]string{"target", "lab", "product"}, -1, quote(l.Product), `"redis", "postgresql" or "nginx"`, `product = "redis"`)
		}
		if l.HasKeepalive() {
			if err := (keepalive.Settings{Idle: l.Idle, Interval: max(l.Interval, time.Second), Count: max(l.Count, 1)}).Validate(keepalive.Platform{OS: "linux"}); err != nil {
				return c.errorAt(c.keyLine([]string{"target", "lab"}, -1), fmt.Sprintf("target.lab keepalive: %v", err), "whole seconds 1s..32767s, count 1..127", `idle = "2s"`)
			}
			if l.Product != "redis" && (l.Idle == 0 || l.Interval == 0 || l.Count == 0) {
				return c.errorAt(c.keyLine([]string{"target", "lab"}, -1), "target.lab sets part of keepalive", "idle, interval and count together (redis: idle alone, it derives the rest)",
					`idle = "2s", interval = "1s", count = 3`)
			}
			if l.Product == "redis" && (l.Interval != 0 || l.Count != 0) {
				return c.errorAt(c.keyLine([]string{"target", "lab"}, -1), "target.lab interval or count with product redis", "idle alone: redis's tcp-keepalive derives interval and count",
					"remove interval and count")
			}
		}
	}
	return nil
}

// Name is how runs and plans name the target: its process (or lab
// product) and port, "redis-server:6379", or its address.
func (t Target) Name() string {
	if t.Address != "" {
		return strings.TrimSpace(t.Process + " " + t.Address)
	}
	name := t.Process
	if name == "" && t.Lab != nil {
		name = t.Lab.Product
	}
	if name == "" {
		name = "target"
	}
	return fmt.Sprintf("%s:%d", name, t.Port)
}

// TargetSettings is the keepalive the plan expects the target to apply
// on goos, and whether it is on at all: with --lab, what the lab's service
// applies for its configuration (labsvc.ExpectedFor: Redis derives
// interval and count from tcp-keepalive and defaults to 300 s, nginx sets
// nothing without so_keepalive, PostgreSQL leaves the kernel's); otherwise
// the OS's defaults. Each run re-predicts from what the target's socket
// really has.
func (t Target) TargetSettings(goos string) (keepalive.Settings, bool) {
	kernel, _ := keepalive.Defaults(keepalive.Platform{OS: goos}) // cells exist only for linux, windows, darwin
	l := t.Lab
	if l == nil {
		return kernel, true
	}
	var k *labsvc.Keepalive
	if l.HasKeepalive() {
		k = &labsvc.Keepalive{Idle: l.Idle, Interval: l.Interval, Count: l.Count}
	}
	got := labsvc.ExpectedFor(labsvc.Product(l.Product), k, labsvc.Keepalive(kernel))
	return keepalive.Settings(got), !got.IsZero()
}

// targetCell plans one fault against the target on os: detected in the
// model's window when it fits max_run, otherwise expected not to be
// detected within max_run (the service's 2 h default idle), never
// skipped: that answer is the point of measuring a service's defaults.
func (c *Config) targetCell(os string, f FaultEntry) Cell {
	s, on := c.Target.TargetSettings(os)
	plat := keepalive.Platform{OS: os}
	hz := 0
	if os == "linux" {
		hz = 250
	}
	pred, _ := keepalive.Predict(plat, s, keepalive.PhaseCycling, keepalive.ModelOptions{HZ: hz})
	cell := Cell{OS: os, Settings: s, Fault: f, Expect: results.Expect(f.Kind, keepalive.ScenarioIdle),
		Model: pred, Scenario: keepalive.ScenarioIdle, Settle: c.Settle, Target: c.Target.Name()}
	if cell.Settle == 0 {
		cell.Settle = min(2*max(s.Idle, s.Interval)+500*time.Millisecond, 10*time.Second)
	}
	budget := c.MaxRun - setupOverhead - cell.Settle
	if !on && cell.Expect == results.ExpectDetected {
		cell.Expect = results.ExpectNotDetected // keepalive off: nothing will notice a silent client
	}
	switch cell.Expect {
	case results.ExpectImmediate:
		cell.Observe = results.ImmediateBound + 2*time.Second
	case results.ExpectDetected:
		cell.Observe = pred.AfterFault.Max + c.Margin
		if cell.Observe > budget {
			cell.Expect, cell.Observe = results.ExpectNotDetected, budget
		}
	default:
		cell.Observe = budget
		if on {
			cell.Observe = min(pred.AfterFault.Max+c.Margin, budget)
		}
	}
	cell.Longest = setupOverhead + cell.Settle + cell.Observe
	cell.Expected = typicalOverhead + cell.Settle + cell.Observe
	if b := c.Target.Bisect; b != nil {
		// No settle: each outage starts right after the hello. About half
		// the outages tried are near the middle of the range.
		cell.Settle, cell.Observe, cell.Expect = 0, b.Max, results.ExpectDetected
		if first, err := keepalive.Predict(plat, s, keepalive.PhaseFirstIdle, keepalive.ModelOptions{HZ: hz}); err == nil {
			cell.Model = first // every outage starts right after the hello: from T0
		}
		cell.Longest = bisectDuration(*b)
		cell.Expected = time.Duration(b.Trials()) * ((b.Min+b.Max)/2 + time.Second)
		return cell
	}
	if cell.Expect == results.ExpectDetected {
		cell.Expected = typicalOverhead + cell.Settle + (pred.AfterFault.Min+pred.AfterFault.Max)/2
	}
	return cell
}

// validateBisect checks [target.bisect]: sensible bounds, a hello to
// recheck with, and only flow drops (the outage must heal on the same
// connection).
func (c *Config) validateBisect(b Bisect) error {
	key := func(k string) []string { return []string{"target", "bisect", k} }
	switch {
	case b.Min < 100*time.Millisecond || b.Min > time.Hour:
		return c.fieldErr(key("min"), -1, b.Min, "100ms..1h", `min = "1s"`)
	case b.Max <= b.Min || b.Max > time.Hour:
		return c.fieldErr(key("max"), -1, b.Max, "above min ("+b.Min.String()+"), up to 1h", durFix("max", min(max(b.Min*4, b.Min+time.Second), time.Hour)))
	case b.Resolution < 50*time.Millisecond || b.Resolution > (b.Max-b.Min)/2:
		return c.fieldErr(key("resolution"), -1, b.Resolution, "50ms..(max−min)/2", durFix("resolution", clampDur(b.Resolution, 50*time.Millisecond, (b.Max-b.Min)/2)))
	case c.Target.Hello == "" || c.Target.Expect == "":
		return c.errorAt(c.keyLine([]string{"target", "bisect"}, -1), "[target.bisect] without hello and expect",
			"a hello and the reply's prefix: after each outage the client sends the hello again to see whether the service kept the connection", `hello = "PING\r\n", expect = "+PONG"`)
	}
	for i, f := range c.Faults {
		if f.Kind != results.KindDrop || f.Scope != results.ScopeFlow || f.Direction != results.DirectionBoth {
			return c.fieldErr([]string{"faults", "kind"}, i, quote(f.String()), "only a flow drop both ways with [target.bisect]: the outage heals on the same connection", `kind = "drop"`)
		}
	}
	return c.checkBisectTime(b)
}

// checkBisectTime refuses a search that cannot end within max_run.
func (c *Config) checkBisectTime(b Bisect) error {
	if need := bisectDuration(b); need > c.MaxRun {
		return c.fieldErr([]string{"max_run"}, -1, c.MaxRun, fmt.Sprintf("at least %s: the bisection tries up to %d outages up to %s", need.Round(time.Second), b.Trials(), b.Max),
			durFix("max_run", need.Round(time.Minute)+time.Minute))
	}
	return nil
}

// bisectDuration is the longest a search takes: both bounds, then
// halvings at most as long as Max, each with a second of setup and check.
func bisectDuration(b Bisect) time.Duration {
	return time.Duration(b.Trials()) * (b.Max + 2*time.Second)
}

// validateAddress checks a [target] without an agent: an ip:port, no
// agent, port or lab with it, bisection as the method.
func (c *Config) validateAddress() error {
	t := c.Target
	key := func(k string) []string { return []string{"target", k} }
	ap, err := netip.ParseAddrPort(t.Address)
	switch {
	case err != nil || ap.Port() == 0 || ap.Addr().IsUnspecified():
		return c.fieldErr(key("address"), -1, quote(t.Address), "an ip:port (a literal address: the client agents' targets list it the same way)", `address = "192.0.2.30:5432"`)
	case t.Agent != "" || t.Port != 0:
		return c.fieldErr(key("address"), -1, quote(t.Address), "address instead of agent and port, not beside them", "remove agent and port")
	case t.Lab != nil:
		return c.fieldErr(key("address"), -1, quote(t.Address), "no [target.lab] with address: the lab starts services on its own agents' hosts", "use agent = \"lab-agent-1\" in the lab")
	case t.Bisect == nil:
		return c.errorAt(c.keyLine(key("address"), -1), "target.address without [target.bisect]",
			"bisection: with no agent on the service's host nothing can watch its sockets", "add [target.bisect] with min, max and resolution")
	case t.OS != "" && !slices.Contains([]string{"linux", "windows", "darwin"}, t.OS):
		return c.fieldErr(key("os"), -1, quote(t.OS), `"linux", "windows" or "darwin"`, `os = "linux"`)
	}
	return nil
}

// TargetOS is the OS an agentless target runs for the model (default
// linux); "" with an agent, whose host says.
func (t Target) TargetOS() string {
	switch {
	case t.Address == "":
		return ""
	case t.OS == "":
		return "linux"
	}
	return t.OS
}
