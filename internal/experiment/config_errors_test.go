package experiment

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/fault"
)

// TestMaxRunLimitFitsAgentTTL: the largest max_run keeps the role TTL the
// executor asks for (settle + observe + 1m, with settle + observe + 2s ≤
// max_run) and the fault TTL (observe + 30s) within what agents accept.
func TestMaxRunLimitFitsAgentTTL(t *testing.T) {
	roleTTL := MaxRunLimit - setupOverhead + time.Minute
	if roleTTL > fault.MaxTTL {
		t.Fatalf("max_run %s allows a role TTL of %s, over the agents' %s", MaxRunLimit, roleTTL, fault.MaxTTL)
	}
	if MaxRunLimit < 5*time.Hour {
		t.Fatalf("max_run limit %s is needlessly low", MaxRunLimit)
	}
}

// TestMalformedConfigs: every malformed file gives exactly one error, on
// one line, naming the file, the key's line, the key, what is allowed and
// the fix.
func TestMalformedConfigs(t *testing.T) {
	var unknown strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&unknown, "k%d = 1\n", i)
	}
	unknown.WriteString(base)
	set := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("base lacks %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	top := func(line string) string { return line + "\n" + base } // line 1, name on line 2
	sixtyFive := strings.Repeat("[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 3\n", 65)
	tests := []struct {
		name    string
		src     string
		line    int
		key     string // the key as the message names it
		allowed string
		fix     string // optional: the fix's text
	}{
		{"client select plan9", set(`[client]
select = { os = "linux" }`, `[client]
select = { os = "plan9" }`), 5, `client.select.os = "plan9"`, "at least one of linux, windows, darwin", `os = "linux"`},
		{"select colour", set(`[client]
select = { os = "linux" }`, `[client]
select = { os = "linux", colour = "blue" }`), 5, `client.select.colour = "blue"`, "os, arch, os_version, kalab_version, caps, role", "remove"},
		{"select tag typo in a table", strings.Replace(base, "[client]\nselect = { os = \"linux\" }\n", "[client.select]\nOS = \"linux\"\n", 1), 5, "client.select.OS", "os, arch", "rename it to os"},
		{"name with a newline", set(`name = "t"`, `name = "a\nb"`), 1, `name = "a\nb"`, "[A-Za-z0-9._-], 1..64 characters", "name = \"a-b\""},
		{"name escapes the output dir", set(`name = "t"`, `name = "../x"`), 1, `name = "../x"`, "[A-Za-z0-9._-], 1..64 characters", `fix: name = "x"`},
		{"name dot dot", set(`name = "t"`, `name = ".."`), 1, `name = ".."`, "not . or ..", `name = "x"`},
		{"name too long", set(`name = "t"`, `name = "`+strings.Repeat("n", 65)+`"`), 1, `name = "nnnn`, "1..64 characters", `name = "` + strings.Repeat("n", 64) + `"`},
		{"name missing", "\n" + set(`name = "t"`, ""), 1, "name is required", "[A-Za-z0-9._-]", `name = "x"`},
		{"name of 10 MB", set(`name = "t"`, `name = "`+strings.Repeat("x", 10<<20)+`"`), 1, `name = "xxxx`, "at most 1048576 bytes (1 MiB)", "few dozen lines"},
		{"20000 unknown keys", unknown.String(), 1, `unknown key "k0"`, "top-level keys: name, description, repetitions", "remove it"},
		{"key in another case", set("[[faults]]", "[[fAults]]"), 10, `unknown key "fAults"`, "top-level keys", "rename it to faults"},
		{"second bad value", set(`interval = "1s"`, `interval = "1x"`) + "[[settings]]\nidle = true\n", 8, `settings[0].interval = "1x" is not a duration`, "a duration in whole seconds", `interval = "1s"`},
		{"settings not tables", "settings = [1, 2]\n" + strings.Replace(base, "[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 3\n", "", 1), 1, "settings[0] is an integer", "[[settings]] tables", "[[settings]]"},
		{"table and array of tables", "[settings]\n" + base, 7, "settings: Key 'settings' was already created", "[[settings]] tables", "[[settings]]"},
		{"typo'd key", set("count = 3", "cuont = 3"), 9, `unknown key "settings.cuont"`, "keys of settings: idle, interval, count, mode", "rename it to count"},
		{"negative max_run", top(`max_run = "-1s"`), 1, "max_run = -1s", "1s..5h59m0s", `max_run = "1s"`},
		{"zero max_run", top(`max_run = "0s"`), 1, "max_run = 0s", "1s..5h59m0s", `max_run = "1s"`},
		{"max_run over the agents' TTL", top(`max_run = "6h"`), 1, "max_run = 6h0m0s", "1s..5h59m0s (agents refuse", `max_run = "5h59m0s"`},
		{"max_run not a duration", top(`max_run = "ten minutes"`), 1, `max_run = "ten minutes" is not a duration`, "a duration 1s..5h59m0s", `max_run = "10m"`},
		{"max_run wrong type", top(`max_run = true`), 1, "max_run is a boolean", "a duration", `max_run = "10m"`},
		{"negative settle", top(`settle = "-5s"`), 1, "settle = -5s", "0s..1h (0 = automatic)", `settle = "0s"`},
		{"margin too long", top(`margin = "2h"`), 1, "margin = 2h0m0s", "0s..1h", `margin = "1h0m0s"`},
		{"repetitions 0", top("repetitions = 0"), 1, "repetitions = 0", "1..100", "repetitions = 1"},
		{"repetitions 101", top("repetitions = 101"), 1, "repetitions = 101", "1..100", "repetitions = 100"},
		{"parallel 65", top("parallel = 65"), 1, "parallel = 65", "1..64", "parallel = 64"},
		{"bad server mode", set("[client]", "mode = \"inherit\"\n[client]"), 4, `server.mode = "inherit"`, `"listener", "listener-go-default" or "per-connection"`, `mode = "listener"`},
		{"mode on the client", set("[[settings]]", "mode = \"listener\"\n[[settings]]"), 6, `client.mode = "listener"`, "only the server has a keepalive mode", "remove it"},
		{"bad settings mode", set("count = 3", "count = 3\nmode = \"per-conection\""), 10, `settings[0].mode = "per-conection"`, "per-connection", `mode = "per-connection"`},
		{"server os matches nothing", set(`select = { os = "linux" }`, `select = { os = "lin" }`), 3, `server.select.os = "lin"`, "at least one of linux, windows, darwin", `os = "linux"`},
		{"server os not a regexp", set(`select = { os = "linux" }`, `select = { os = "lin(ux" }`), 3, `server.select.os = "lin(ux"`, "a regular expression (Go RE2 syntax)", `os = "lin\\(ux"`},
		{"empty selector", set(`select = { os = "linux" }`, `select = { os = "linux", arch = "" }`), 3, `server.select.arch = ""`, "a non-empty regular expression", "remove arch"},
		{"select not a table", set(`select = { os = "linux" }`, `select = "linux"`), 3, "server.select", "a table of tag = regular expression", `select = { os = "linux" }`},
		{"count 0", set("count = 3", "count = 0"), 9, "settings[0].count = 0", "1..127 on linux", "count = 1"},
		{"count 128", set("count = 3", "count = 128"), 9, "settings[0].count = 128", "1..127 on linux", "count = 127"},
		{"count a string", set("count = 3", `count = "3"`), 9, "settings[0].count is a string", "an integer", "count = 3"},
		{"idle in ms", set(`idle = "1s"`, `idle = "1500ms"`), 7, "settings[0].idle = 1.5s", "whole multiples of 1s", `idle = "2s"`},
		{"interval 0", set(`interval = "1s"`, `interval = "0s"`), 8, "settings[0].interval = 0s", "1s..9h6m7s on linux", `interval = "1s"`},
		{"negative idle", set(`idle = "1s"`, `idle = "-1s"`), 7, "settings[0].idle = -1s", "1s..9h6m7s on linux", `idle = "1s"`},
		{"second settings bad", base + "[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 300\n", 15, "settings[1].count = 300", "1..127 on linux", "count = 127"},
		{"bad fault kind", set(`kind = "drop"`, `kind = "unplug"`), 11, `faults[0].kind = "unplug"`, `"drop", "pause", "vm-pause" or "kill"`, `kind = "drop"`},
		{"fault kind typo", set(`kind = "drop"`, `kind = "puase"`), 11, `faults[0].kind = "puase"`, `"vm-pause"`, `kind = "pause"`},
		{"bad fault scope", set(`kind = "drop"`, "kind = \"drop\"\nscope = \"everything\""), 12, `faults[0].scope = "everything"`, `"flow" or "host"`, `scope = "flow"`},
		{"scope on kill", set(`kind = "drop"`, "kind = \"kill\"\nscope = \"host\""), 12, `faults[0].scope = "host"`, "only drop has a scope", "remove scope"},
		{"bad drop direction", set(`kind = "drop"`, "kind = \"drop\"\ndirection = \"sideways\""), 12, `faults[0].direction = "sideways"`, `"both", "to-server" or "to-client"`, `direction = "both"`},
		{"drop direction typo", set(`kind = "drop"`, "kind = \"drop\"\nscope = \"host\"\ndirection = \"to_server\""), 13, `faults[0].direction = "to_server"`, "to-client", `direction = "to-server"`},
		{"drop direction in another case", set(`kind = "drop"`, "kind = \"drop\"\ndirection = \"To-Client\""), 12, `faults[0].direction = "To-Client"`, `"both", "to-server" or "to-client"`, `direction = "to-client"`},
		{"direction on pause", set(`kind = "drop"`, "kind = \"pause\"\ndirection = \"to-server\""), 12, `faults[0].direction = "to-server"`, "only drop has a direction", "remove direction"},
		{"direction on the second fault", base + "[[faults]]\nkind = \"vm-pause\"\ndirection = \"both\"\n", 14, `faults[1].direction = "both"`, "only drop has a direction", "remove direction"},
		{"direction not a string", set(`kind = "drop"`, "kind = \"drop\"\ndirection = 1"), 12, "faults[0].direction is an integer", `"both", "to-server" or "to-client" (drop only)`, `direction = "both"`},
		{"direction key in another case", set(`kind = "drop"`, "kind = \"drop\"\nDirection = \"both\""), 12, `unknown key "faults.Direction"`, "keys of faults: kind, scope, direction", "rename it to direction"},
		{"hold 0", set(`kind = "drop"`, "kind = \"drop\"\nhold = \"0s\""), 12, "faults[0].hold = 0s", "a duration > 0 up to max_run (10m0s)", `hold = "1s"`},
		{"negative hold", set(`kind = "drop"`, "kind = \"drop\"\nhold = \"-2s\""), 12, "faults[0].hold = -2s", "a duration > 0 up to max_run", `hold = "1s"`},
		{"hold over max_run", top(`max_run = "1m"`) + "[[faults]]\nkind = \"pause\"\nhold = \"2m\"\n", 15, "faults[1].hold = 2m0s", "up to max_run (1m0s)", `hold = "1m0s"`},
		{"hold on a kill", set(`kind = "drop"`, "kind = \"kill\"\nhold = \"2s\""), 12, "faults[0].hold = 2s", "no hold on a kill", "remove hold"},
		{"hold not a duration", set(`kind = "drop"`, "kind = \"drop\"\nhold = \"soon\""), 12, `faults[0].hold = "soon" is not a duration`, "a duration > 0 up to max_run", `hold = "2s"`},
		{"hold wrong type", set(`kind = "drop"`, "kind = \"vm-pause\"\nhold = true"), 12, "faults[0].hold is a boolean", "a duration > 0", `hold = "2s"`},
		{"hold key in another case", set(`kind = "drop"`, "kind = \"drop\"\nHold = \"2s\""), 12, `unknown key "faults.Hold"`, "keys of faults: kind, scope, direction, hold", "rename it to hold"},
		{"scenario typo", set("count = 3", "count = 3\nscenario = \"unaked\"\nuser_timeout = \"5s\""), 10, `settings[0].scenario = "unaked"`, `"idle", "unacked", "user-timeout" or "heartbeat"`, `scenario = "unacked"`},
		{"heartbeat with keepalive keys", top(`scenario = "heartbeat"`), 8, "settings[0].idle with scenario heartbeat: keepalive is off", "heartbeat and misses only", "remove idle"},
		{"heartbeat missing", set("idle = \"1s\"\ninterval = \"1s\"\ncount = 3", "scenario = \"heartbeat\"\nmisses = 3"), 6, "settings[0].heartbeat = 0s", "a duration 1ms..1h", `heartbeat = "200ms"`},
		{"misses missing", set("idle = \"1s\"\ninterval = \"1s\"\ncount = 3", "scenario = \"heartbeat\"\nheartbeat = \"200ms\""), 6, "settings[0].misses = 0", "an integer 1..1000", "misses = 3"},
		{"misses a string", set("idle = \"1s\"\ninterval = \"1s\"\ncount = 3", "scenario = \"heartbeat\"\nheartbeat = \"200ms\"\nmisses = \"3\""), 9, "settings[0].misses is a string", "an integer 1..1000", "misses = 3"},
		{"heartbeat too slow", set("idle = \"1s\"\ninterval = \"1s\"\ncount = 3", "scenario = \"heartbeat\"\nheartbeat = \"2h\"\nmisses = 3"), 8, "settings[0].heartbeat = 2h0m0s", "a duration 1ms..1h", `heartbeat = "1h0m0s"`},
		{"misses without the heartbeat scenario", set("count = 3", "count = 3\nmisses = 3"), 10, "settings[0].misses = 3", "it belongs to scenario heartbeat", `scenario = "heartbeat"`},
		{"heartbeat with a user timeout", set("idle = \"1s\"\ninterval = \"1s\"\ncount = 3", "scenario = \"heartbeat\"\nheartbeat = \"200ms\"\nmisses = 3\nuser_timeout = \"3s\""), 10, "settings[0].user_timeout = 3s", "no user_timeout with scenario heartbeat", "remove user_timeout"},
		{"user-timeout without user_timeout", set("count = 3", "count = 3\nscenario = \"user-timeout\""), 10, `settings[0].scenario = "user-timeout"`, "user_timeout (required)", `user_timeout = "3s"`},
		{"user_timeout with idle", set("count = 3", "count = 3\nuser_timeout = \"5s\""), 10, "settings[0].user_timeout = 5s", "no user_timeout with scenario idle", `scenario = "user-timeout"`},
		{"user_timeout over an hour", top("scenario = \"unacked\"\nuser_timeout = \"2h\""), 2, "user_timeout = 2h0m0s", "1ms..1h", `user_timeout = "1h0m0s"`},
		{"user_timeout not a duration", top(`user_timeout = "soon"`), 1, `user_timeout = "soon" is not a duration`, "1ms..1h", `user_timeout = "5s"`},
		{"user_timeout fraction on windows", strings.Replace(set("count = 3", "count = 3\nscenario = \"unacked\"\nuser_timeout = \"1500ms\""), `os = "linux" }
[client]`, `os = "windows" }
[client]`, 1), 11, "settings[0].user_timeout = 1.5s", "whole seconds on windows (TCP_MAXRT", `user_timeout = "2s"`},
		{"hold with unacked", set("count = 3", "count = 3\nscenario = \"unacked\"") + "[[faults]]\nkind = \"pause\"\nhold = \"2s\"\n", 15, "faults[1].hold = 2s", "a hold only with scenario idle", "remove hold"},
		{"user_timeout with only idle entries", top(`user_timeout = "5s"`), 1, "user_timeout = 5s", "only with scenario unacked or user-timeout", `scenario = "user-timeout"`},
		{"no settings", strings.Replace(base, "[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 3\n", "", 1), 1, "0 [[settings]] tables", "1..64 [[settings]] tables", "add one"},
		{"65 settings", strings.Replace(base, "[[settings]]\nidle = \"1s\"\ninterval = \"1s\"\ncount = 3\n", sixtyFive, 1), 6 + 64*4, "65 [[settings]] tables", "1..64 [[settings]] tables", "split the experiment"},
		{"no faults", strings.Replace(base, "[[faults]]\nkind = \"drop\"\n", "", 1), 1, "0 [[faults]] tables", "1..16 [[faults]] tables", "add one"},
		{"duplicate key", set(`name = "t"`, "name = \"t\"\nname = \"u\""), 2, "name: Key 'name' has already been defined", "[A-Za-z0-9._-]", "keep only one name"},
		{"syntax", base + "oops =\n", 12, "oops: ", "TOML: key = value", "write key = value"},
		{"nested too deep", top("x = [[[[[1]]]]]"), 1, "x = [[[[[1]]]]]", "at most 4 levels", "write the experiment's keys plainly"},
		{"dotted key too long", top("a.b.c.d.e = 1"), 1, "a.b.c.d.e = 1", "at most 4 parts", "write the experiment's keys plainly"},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Now()
			_, err := Parse("configs/x.toml", []byte(tt.src))
			if d := time.Since(t0); d > 2*time.Second {
				t.Errorf("took %s: want under 2 s", d)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Fatalf("more than one line: %q", msg)
			}
			if _, ok := err.(interface{ Unwrap() []error }); ok {
				t.Fatalf("a joined list of errors: %q", msg)
			}
			head, fix, ok := strings.Cut(msg, "; fix: ")
			if !ok || !strings.Contains(fix, strings.TrimPrefix(tt.fix, "fix: ")) {
				t.Errorf("error lacks the fix %q:\n%s", tt.fix, msg)
			}
			head, allowed, ok := strings.Cut(head, ": allowed ")
			if !ok || !strings.Contains(allowed, tt.allowed) {
				t.Errorf("error lacks allowed %q:\n%s", tt.allowed, msg)
			}
			if !strings.HasPrefix(head, fmt.Sprintf("configs/x.toml:%d: ", tt.line)) || !strings.Contains(head, tt.key) {
				t.Errorf("error does not start with configs/x.toml:%d: and name %q:\n%s", tt.line, tt.key, msg)
			}
			t.Log(msg)
			if len(msg) > 600 {
				t.Errorf("error of %d bytes: %.200q…", len(msg), msg)
			}
		})
	}
}

// TestLoadRefusesBigFilesUnread: Load reads at most 1 MiB + 1 byte and
// names the file's real size.
func TestLoadRefusesBigFilesUnread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.toml")
	src := `name = "` + strings.Repeat("x", 10<<20) + "\"\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s:1: the file is %d bytes", path, len(src))) || !strings.Contains(err.Error(), "fix: ") {
		t.Fatalf("got %v", err)
	}
}

// TestLoadUnreadable: a path that is no file is refused in the same form.
func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{dir, filepath.Join(dir, "nope.toml")} {
		_, err := Load(p)
		if err == nil || !strings.HasPrefix(err.Error(), p+":1: read experiment: ") || !strings.Contains(err.Error(), "; fix: ") {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestKeyLine: keys are found in every way TOML can write them.
func TestKeyLine(t *testing.T) {
	src := `name = "t"
[server]
select.os = "linux"
[client]
"select" = { arch = "amd64", os = "linux" }
[[settings]]
count = 3
[[settings]]
idle = "1s"
[[faults]]
kind = "kill"
`
	for _, tc := range []struct {
		key   []string
		index int
		want  int
	}{
		{[]string{"name"}, -1, 1},
		{[]string{"server", "select", "os"}, -1, 3},
		{[]string{"client", "select", "os"}, -1, 5},
		{[]string{"settings", "count"}, 0, 7},
		{[]string{"settings", "idle"}, 1, 9},
		{[]string{"settings", "count"}, 1, 8}, // missing: its table's header
		{[]string{"faults", "kind"}, 0, 11},
		{[]string{"nothing"}, -1, 1},
	} {
		if got := findKeyLine([]byte(src), tc.key, tc.index); got != tc.want {
			t.Errorf("%v[%d]: line %d, want %d", tc.key, tc.index, got, tc.want)
		}
	}
}
