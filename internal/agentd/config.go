package agentd

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kalab-dev/kalab/internal/fault"
)

// fileConfig is agent.toml. It is the only place hypervisor commands can
// come from: the cluster can ask for "vm-pause", never say how.
type fileConfig struct {
	Name       string           `toml:"name"`
	Bind       string           `toml:"bind"`
	Advertise  string           `toml:"advertise"`
	Join       []string         `toml:"join"`
	KeyFile    string           `toml:"key_file"`
	DataDir    string           `toml:"data_dir"`
	Hypervisor fault.Hypervisor `toml:"hypervisor"`
}

// LoadConfig reads agent.toml strictly (unknown keys are errors).
//
//	name = "win-1"
//	bind = "0.0.0.0:7946"
//	advertise = "192.0.2.20:7946"
//	join = ["192.0.2.10:7946"]
//	key_file = "C:\\kalab\\kalab.key"
//	data_dir = "C:\\kalab\\data"
//	[hypervisor]          # optional: how this host pauses the client's VM
//	vm = "client-vm"
//	pause = ["virsh", "suspend", "{vm}"]
//	resume = ["virsh", "resume", "{vm}"]
func LoadConfig(path string) (Config, error) {
	var fc fileConfig
	md, err := toml.DecodeFile(path, &fc)
	if err != nil {
		return Config{}, fmt.Errorf("agent config %s: %w", path, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		keys := make([]string, len(u))
		for i, k := range u {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("agent config %s: unknown keys %s", path, strings.Join(keys, ", "))
	}
	h := fc.Hypervisor
	if (h.VM != "" || len(h.Pause) > 0 || len(h.Resume) > 0) && !h.Configured() {
		return Config{}, fmt.Errorf("agent config %s: [hypervisor] needs vm, pause and resume together", path)
	}
	return Config{Name: fc.Name, Bind: fc.Bind, Advertise: fc.Advertise, Join: fc.Join, KeyFile: fc.KeyFile,
		DataDir: fc.DataDir, Hypervisor: h}, nil
}
