package tomlshape

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	lim := Limits{Depth: 2, KeyParts: 3, Keys: 3}
	tests := []struct {
		src, want string
		line      int
	}{
		{"a = 1\nb = [[1]]\n", "", 0},
		{"a = 1\nb = [[[1]]]\n", "nested 3 deep", 2},
		{"a.b.c.d = 1\n", "more than 3 parts", 1},
		{"a = 1\nb = 2\nc = 3\nd = 4\n", "more than 3 keys", 4},
		{"s = \"[[[[ a.b.c.d.e # \"\n", "", 0},                         // inside a string
		{"# [[[[ a.b.c.d.e\nx = 1\n", "", 0},                           // inside a comment
		{"s = \"\"\"\n[[[\n\"\"\"\nx = [[[1]]]\n", "nested 3 deep", 4}, // lines counted through a multi-line string
	}
	for _, tt := range tests {
		p := Check([]byte(tt.src), lim)
		if !strings.Contains(p.Problem, tt.want) || (tt.want == "") != (p.Problem == "") || (tt.want != "" && p.Line != tt.line) {
			t.Errorf("Check(%q) = %+v, want %q at line %d", tt.src, p, tt.want, tt.line)
		}
	}
}
