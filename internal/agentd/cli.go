package agentd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kalab-dev/kalab/internal/logging"
	"github.com/spf13/cobra"
)

// RunCommand is `agent run`: flags → Config → Run until SIGINT/SIGTERM.
func RunCommand() *cobra.Command {
	var cfg Config
	var join string
	var debug bool
	var file, logFormat string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent: join the cluster and answer experiment commands",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" {
				fc, err := ReadConfig(file)
				if err != nil {
					return err
				}
				// Flags given on the command line win over the file.
				f := cmd.Flags()
				keep := func(name string, dst *string, v string) {
					if !f.Changed(name) {
						*dst = v
					}
				}
				keep("name", &cfg.Name, fc.Name)
				keep("bind", &cfg.Bind, fc.Bind)
				keep("advertise", &cfg.Advertise, fc.Advertise)
				keep("key-file", &cfg.KeyFile, fc.KeyFile)
				keep("data-dir", &cfg.DataDir, fc.DataDir)
				keep("coordinator-key", &cfg.CoordinatorKey, fc.CoordinatorKey)
				if !f.Changed("max-runs") {
					cfg.MaxRuns = fc.MaxRuns
				}
				if !f.Changed("join") {
					cfg.Join = fc.Join
				}
				if cfg.Bind == "" {
					cfg.Bind = "0.0.0.0:7946"
				}
				cfg.Hypervisor = fc.Hypervisor
				cfg.path, cfg.src = fc.path, fc.src // errors name the file's lines
			}
			if join != "" {
				cfg.Join = strings.Split(join, ",")
			}
			lg, err := logging.New(os.Stderr, logFormat, debug)
			if err != nil {
				return err
			}
			cfg.Logger = lg
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", "", "node name, unique in the cluster (default: hostname)")
	f.StringVar(&cfg.Bind, "bind", "0.0.0.0:7946", "serf bind address host:port (TCP and UDP)")
	f.StringVar(&cfg.Advertise, "advertise", "", "address others reach this agent at, host:port (needed when bind is 0.0.0.0); experiments are served on its IP")
	f.StringVar(&join, "join", "", "comma-separated host:port of members to join")
	f.StringVar(&cfg.KeyFile, "key-file", "", "gossip key file (coordinator keygen)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the agent's state and fault journal (required)")
	f.StringVar(&cfg.CoordinatorKey, "coordinator-key", "", "the coordinator's public key (coordinator.pub from coordinator keygen): only commands it signed are obeyed")
	f.IntVar(&cfg.MaxRuns, "max-runs", 0, fmt.Sprintf("runs the agent holds at once, more are refused (default %d; allowed 1..%d)", DefaultMaxRuns, MaxMaxRuns))
	f.BoolVar(&cfg.LabEmulateVM, "lab-emulate-vm", false, "netns lab only: emulate vm-pause by a host drop plus SIGSTOP")
	f.StringVarP(&file, "config", "c", "", "agent.toml (the only place a vm-pause hypervisor hook can be set)")
	f.BoolVar(&debug, "debug", false, "log debug messages (serf's too)")
	f.StringVar(&logFormat, "log-format", logging.FormatAuto, "log format: auto (text on a terminal, JSON otherwise), text or json")
	_ = f.MarkHidden("lab-emulate-vm")
	return cmd
}

// DeadmanCommand is `agent deadman --entry FILE`, the detached watchdog an
// agent starts for a fault the OS cannot heal without it; not for people.
func DeadmanCommand() *cobra.Command {
	var entry string
	cmd := &cobra.Command{
		Use:    "deadman --entry FILE",
		Short:  "Heal one fault at its deadline unless the agent healed it (started by the agent)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(*cobra.Command, []string) error { return Deadman(entry) },
	}
	cmd.Flags().StringVar(&entry, "entry", "", "the fault's journal entry")
	_ = cmd.MarkFlagRequired("entry")
	return cmd
}
