package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestString: a release build prints what its ldflags set; any other build
// prints what the toolchain recorded, never "dev (none, unknown)".
func TestString(t *testing.T) {
	if got := String(); got == "dev (none, unknown)" || strings.Contains(got, "none") {
		t.Errorf("String() in a test build = %q", got)
	}
	defer func(v, c, d string) { Version, Commit, Date = v, c, d }(Version, Commit, Date)
	Version, Commit, Date = "v1.2.3", "abc1234", "2026-01-02T03:04:05Z"
	if got, want := String(), "v1.2.3 (abc1234, 2026-01-02T03:04:05Z)"; got != want {
		t.Errorf("release String() = %q, want %q", got, want)
	}
}

func TestFromBuildInfo(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "devel (no build information)"},
		{"go build, -buildvcs=false", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, true,
			"devel (no VCS information, go1.26.0)"},
		{"go test", &debug.BuildInfo{GoVersion: "go1.26.0"}, true, "devel (no VCS information, go1.26.0)"},
		{"go build in a clean checkout", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main:     debug.Module{Version: "v0.3.1-0.20261201070511-e859482ccb3a"},
			Settings: vcs("vcs", "git", "vcs.revision", "e859482ccb3a5957e1e7904783a75fb9c8d8095a", "vcs.time", "2026-12-01T07:05:11Z", "vcs.modified", "false")}, true,
			"v0.3.1-0.20261201070511-e859482ccb3a (e859482ccb3a, 2026-12-01T07:05:11Z, go1.26.0)"},
		{"go build with local changes", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main:     debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "e859482", "vcs.time", "2026-12-01T07:05:11Z", "vcs.modified", "true")}, true,
			"devel (e859482, modified, 2026-12-01T07:05:11Z, go1.26.0)"},
		{"go install module@version", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}}, true,
			"v1.4.0 (no VCS information, go1.26.0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fromBuildInfo(tt.bi, tt.ok); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
