package experiment

import (
	"errors"
	"strings"
	"testing"

	"github.com/kalab-dev/kalab/internal/cluster"
	"github.com/kalab-dev/kalab/internal/results"
)

// TestMatches: a selection matches tags in full (anchored), and the name
// tag matches the member's node name, which serf does not carry as a tag.
func TestMatches(t *testing.T) {
	m := cluster.Member{Name: "db-1", Tags: map[string]string{cluster.TagOS: "linux", cluster.TagArch: "amd64"}}
	for _, tc := range []struct {
		sel  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"os": "linux"}, true},
		{map[string]string{"os": "lin"}, false}, // anchored: the whole value
		{map[string]string{"name": "db-1"}, true},
		{map[string]string{"name": "db-.*", "os": "linux|windows"}, true},
		{map[string]string{"name": "db"}, false},
		{map[string]string{"name": "db-2"}, false},
	} {
		if got := matches(Side{Select: tc.sel}, m); got != tc.want {
			t.Errorf("matches(%v) = %v, want %v", tc.sel, got, tc.want)
		}
	}
}

// TestMissingCap: a client whose caps tag lacks the fault's kind is
// planned as skipped with the reason and the fix, not sent to fail.
func TestMissingCap(t *testing.T) {
	for _, tc := range []struct {
		caps, kind, want string
	}{
		{"drop,pause,kill,privileged", "drop", ""},
		{"pause,kill", "drop", "cannot apply drop (its caps: pause,kill)"},
		{"", "pause", "(its caps: none)"},
		{"drop", "vm-pause", "`agent doctor`"},
	} {
		c := &agentInfo{Member: cluster.Member{Name: "b"}, Host: results.Host{Caps: tc.caps}}
		got := missingCap(c, tc.kind)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("missingCap(%q, %s) = %q, want %q", tc.caps, tc.kind, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"1 error occurred:\n\t* Failed to join 198.18.0.2:7946: dial tcp 198.18.0.2:7946: connect: connection refused\n\n": "Failed to join 198.18.0.2:7946: dial tcp 198.18.0.2:7946: connect: connection refused",
		"2 errors occurred:\n\t* a\n\t* b\n\n": "a; b",
		"plain":                                "plain",
	} {
		if got := oneLine(errors.New(in)); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
