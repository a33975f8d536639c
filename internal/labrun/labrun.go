// Package labrun runs an experiment on one Linux machine: it builds the
// netns lab (a control host for the coordinator's cluster member and one
// host per agent), starts the agent binary inside each agent host,
// re-executes the coordinator inside the control host (nothing that talks
// to lab addresses runs in the root namespace), waits, and tears
// everything down — also on Ctrl-C.
package labrun

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/kalab-dev/kalab/internal/labsvc"
)

// Options for one lab experiment.
type Options struct {
	// Out is the output directory; the agents' logs go there too.
	Out string
	// Agents is the number of agent hosts (≥ 2).
	Agents int
	// AgentBinary is the agent executable (see FindAgent).
	AgentBinary string
	// CoordinatorArgs run the experiment inside the control host with this
	// executable (the lab adds --bind/--join/--key-file/...).
	CoordinatorArgs []string
	// Stdout and Stderr receive the coordinator child's output.
	Stdout, Stderr io.Writer
	// Log says what the lab does.
	Log func(format string, args ...any)
	// Service, when set, is a real server the lab starts from Debian's
	// package on one agent's host before the experiment (its [target]),
	// and stops after it.
	Service *Service
	// AgentMaxRuns is each agent's --max-runs (0: the agent's default),
	// raised by benchmarks that hold many runs at once.
	AgentMaxRuns int
	// Capture, when set, is a directory where the lab records each agent
	// host's traffic while the coordinator runs: tcpdump (Debian's package
	// `tcpdump`) on the host's lab interface writes <Capture>/<agent>.pcap
	// ('tcp or icmp', flushed per packet), and <Capture>/hosts.json
	// (CaptureHostsFile) maps each agent's name to its lab address. Started
	// before the coordinator, stopped (SIGTERM, wait) after it.
	Capture string
}

// CaptureHostsFile is the file in Options.Capture that maps each agent's
// name to its lab address (a JSON object of strings).
const CaptureHostsFile = "hosts.json"

// Service is the real server an experiment's [target] names, for the lab
// to start.
type Service struct {
	// Agent is the lab agent whose host runs it ("lab-agent-1").
	Agent string
	// Product is the service (labsvc.Redis, …) and Port its port.
	Product labsvc.Product
	Port    int
	// Keepalive is written into its configuration; nil: its defaults.
	Keepalive *labsvc.Keepalive
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// ErrExit carries the coordinator child's exit status.
type ErrExit struct {
	// Code is the child's exit status, passed on as the command's own.
	Code int
}

func (e *ErrExit) Error() string {
	return fmt.Sprintf("coordinator in the lab exited with status %d", e.Code)
}

// FindAgent returns the agent executable the lab starts: explicit if
// given, else "agent" beside the running executable (release archives ship
// both), else "agent" on PATH. The coordinator does not carry the agent's
// code, so the lab needs the real agent binary.
func FindAgent(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("agent binary: %w", err)
		}
		return explicit, nil
	}
	name := "agent"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", errors.New("the lab starts agents from the agent binary, found neither beside this coordinator nor on PATH: " +
		"build both (go build -o bin/ ./agent ./coordinator) and run bin/coordinator, or pass --agent-bin PATH")
}

// Info says how to reach a lab that Keep holds up.
type Info struct {
	// Name is the lab's name; Control the control host's namespace (run
	// coordinators there: lab.StartIn) and ControlAddr its address.
	Name        string `json:"name"`
	Control     string `json:"control"`
	ControlAddr string `json:"control_addr"`
	// Join are the agents' serf addresses and Agents their names.
	Join   []string `json:"join"`
	Agents []string `json:"agents"`
	// KeyFile is the lab's gossip key; the coordinator's signing key is
	// beside it. Dir holds them until the lab goes.
	KeyFile string `json:"key_file"`
	Dir     string `json:"dir"`
}

// ServiceFile is the file in the lab's temporary directory where the
// started service is described (experiment.LabService as JSON) for the
// coordinator inside the lab (--lab-service).
const ServiceFile = "lab-service.json"
