package experiment

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"bytes"

	"github.com/BurntSushi/toml"
)

func TestZZScratch(t *testing.T) {
	var kv strings.Builder
	for i := 0; i < 60000; i++ { fmt.Fprintf(&kv, "k%d=1,", i) }
	var tabs strings.Builder
	for i := 0; i < 100000; i++ { fmt.Fprintf(&tabs, "[t%d]\n", i) }
	var uk strings.Builder
	for i := 0; i < 100000; i++ { fmt.Fprintf(&uk, "k%d=1\n", i) }
	for name, src := range map[string]string{
		"dotted key": "a" + strings.Repeat(".a", 100000) + "=1\n",
		"dotted header": "[a" + strings.Repeat(".a", 100000) + "]\n",
		"dotted header 2": "[a" + strings.Repeat(".a", 10000) + "]\n",
		"inline many": "x = {" + strings.TrimSuffix(kv.String(), ",") + "}\n",
		"tables": tabs.String(),
		"unknown keys": uk.String(),
		"array tables": strings.Repeat("[[settings]]\n", 100000),
		"array tables sub": strings.Repeat("[[settings]]\n[settings.x]\n", 50000),
		"escape str": "name = \"" + strings.Repeat("\\u00e9", 150000) + "\"\n",
		"array big": "x = [" + strings.Repeat("1,", 400000) + "1]\n",
		"arr of arr": "x = [" + strings.Repeat("[],", 300000) + "[]]\n",
		"arr nest 100k": "x = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
		"inline nest 3000": "x = " + strings.Repeat("{a=", 3000) + "1" + strings.Repeat("}", 3000) + "\n",
		"inline dotted": "x = {" + "a" + strings.Repeat(".a", 100000) + "=1}\n",
	} {
		done := make(chan string, 1)
		go func() {
		var c Config
		t0 := time.Now()
		md, err := toml.NewDecoder(bytes.NewReader([]byte(src))).Decode(&c)
		d1 := time.Since(t0)
		u := md.Undecoded()
		es := fmt.Sprint(err)
		if len(es) > 80 { es = es[:80] }
		done <- fmt.Sprintf("%-18s %8d bytes: decode %s, undecoded %d in %s, err %s\n", name, len(src), d1, len(u), time.Since(t0)-d1, es)
		}()
		select {
		case s := <-done:
			fmt.Print(s)
		case <-time.After(20 * time.Second):
			fmt.Printf("%-18s %8d bytes: > 20s\n", name, len(src))
		}
	}
}
