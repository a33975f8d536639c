// Package tomlshape holds what kalab's two config loaders (experiment
// files and agent.toml) share about TOML: Check bounds the work the parser
// is given (BurntSushi/toml is slow on deep nesting, long dotted keys and
// huge numbers of keys), and Kind and OneLine word values in errors.
package tomlshape

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Limits are the largest shape a file may have.
type Limits struct {
	// Depth is the deepest nesting of [ and {; KeyParts the most parts of
	// a dotted key; Keys the most keys and table headers in the file.
	Depth, KeyParts, Keys int
}

// Problem is what Check found; Problem is "" when the file is within the
// limits.
type Problem struct {
	// Line is where the limit was passed (1-based); Problem what was found
	// there; Allowed the limit, for the error's "allowed" part.
	Line             int
	Problem, Allowed string
}

// Check scans TOML source outside strings and comments, counting
// bracket nesting, the parts of dotted keys and the keys (assignments and
// table headers). It is not a parser: it only bounds the work the parser
// will be given.
func Check(src []byte, lim Limits) Problem {
	depthLimit, partsLimit, keysLimit := lim.Depth, lim.KeyParts, lim.Keys
	line, depth, dots, keys := 1, 0, 0, 0
	afterEq := false // in a value: '[' starts an array, not a header
	for i := 0; i < len(src); i++ {
		switch ch := src[i]; ch {
		case '\n':
			line++
			dots = 0
			if depth == 0 {
				afterEq = false
			}
		case '#':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			if i+2 < len(src) && src[i+1] == ch && src[i+2] == ch {
				i += 3
				for ; i < len(src); i++ {
					if src[i] == '\n' {
						line++
					} else if ch == '"' && src[i] == '\\' {
						i++
						if i < len(src) && src[i] == '\n' {
							line++
						}
					} else if src[i] == ch && i+2 < len(src) && src[i+1] == ch && src[i+2] == ch {
						i += 2
						for i+1 < len(src) && src[i+1] == ch { // """" ends with a quote
							i++
						}
						break
					}
				}
				continue
			}
			for i++; i < len(src) && src[i] != ch && src[i] != '\n'; i++ {
				if ch == '"' && src[i] == '\\' && i+1 < len(src) && src[i+1] != '\n' {
					i++
				}
			}
			if i < len(src) && src[i] == '\n' {
				i-- // an unterminated string: the newline is counted above
			}
		case '[', '{':
			if ch == '[' && depth == 0 && !afterEq {
				keys++
			}
			depth++
			dots = 0
			if depth > depthLimit {
				return Problem{Line: line, Problem: fmt.Sprintf("[ and { nested %d deep", depth), Allowed: fmt.Sprintf("at most %d levels", depthLimit)}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
			dots = 0
		case '=':
			keys++
			afterEq = true
			dots = 0
		case ',':
			dots = 0
		case '.':
			dots++
			if dots >= partsLimit {
				return Problem{Line: line, Problem: fmt.Sprintf("a dotted key of more than %d parts", partsLimit), Allowed: fmt.Sprintf("at most %d parts", partsLimit)}
			}
		}
		if keys > keysLimit {
			return Problem{Line: line, Problem: fmt.Sprintf("more than %d keys", keysLimit), Allowed: fmt.Sprintf("at most %d keys and table headers", keysLimit)}
		}
	}
	return Problem{}
}

// Kind names a decoded TOML value's type for an error message ("a string",
// "an array holding an integer").
func Kind(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		for _, e := range v {
			if _, ok := e.(string); !ok {
				return "an array holding " + Kind(e)
			}
		}
		return "an array"
	}
	return "a date/time"
}

// OneLine makes s fit one line of an error: newlines escaped, at most n
// bytes (valid UTF-8) and an ellipsis.
func OneLine(s string, n int) string {
	s = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// lastKeyRE finds the line and key in BurntSushi/toml's type errors, which
// are not toml.ParseError: `toml: line 3 (last key "join"): incompatible
// types: …`.
var lastKeyRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// ErrorAt finds where a BurntSushi/toml decoding error is: its line (1 when
// unknown), the last key it read ("" when unknown) and its message.
func ErrorAt(err error) (line int, key, msg string) {
	line, msg = 1, err.Error()
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Position.Line, pe.LastKey, pe.Message
	}
	if m := lastKeyRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, m[2], m[3]
	}
	return line, "", msg
}
