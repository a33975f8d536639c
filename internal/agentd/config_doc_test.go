package agentd

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestConfigKeysDocumented: every agent.toml key (the toml tags of Config
// and of its [hypervisor] table) has a row in docs/install.md, so the
// table users read cannot fall behind the struct.
func TestConfigKeysDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(reflect.Type)
	walk = func(tp reflect.Type) {
		for i := range tp.NumField() {
			f := tp.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || tag == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				keys = append(keys, "["+tag+"]") // a table
				walk(f.Type)
				continue
			}
			keys = append(keys, tag)
		}
	}
	walk(reflect.TypeFor[Config]())
	if len(keys) < 8 {
		t.Fatalf("found only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("agent.toml key %q is not described in docs/install.md", k)
		}
	}
}
