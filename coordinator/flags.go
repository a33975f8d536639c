package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/logging"
)

// configFlag is -c/--config, the experiment file, required.
func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", "", "experiment file (TOML)")
	_ = cmd.MarkFlagRequired("config")
}

// clusterFlags are how the coordinator joins a cluster.
type clusterFlags struct {
	bind, advertise, join, keyFile, signingKey string
	expectAgents                               int
}

// defaultExpectAgents is --expect-agents' default for every command that
// joins: one agent, so a command never goes on with an empty cluster.
const defaultExpectAgents = 1

// expectAgentsUsage is --expect-agents' help, the same wherever it appears.
const expectAgentsUsage = "after joining, wait (up to 30s) until at least this many agents are alive; 0 waits only for the join"

func (f *clusterFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.bind, "bind", "0.0.0.0:7947", "serf bind address host:port")
	fs.StringVar(&f.advertise, "advertise", "", "address agents reach the coordinator at (needed when bind is 0.0.0.0)")
	fs.StringVar(&f.join, "join", "", "comma-separated agent addresses host:port")
	fs.StringVar(&f.keyFile, "key-file", "", "gossip key file (coordinator keygen)")
	fs.StringVar(&f.signingKey, "signing-key", "", "the coordinator's command signing key (default: coordinator.key beside --key-file)")
	fs.IntVar(&f.expectAgents, "expect-agents", defaultExpectAgents, expectAgentsUsage)
}

func (f *clusterFlags) options(log *slog.Logger) experiment.JoinOptions {
	var join []string
	if f.join != "" {
		join = strings.Split(f.join, ",")
	}
	return experiment.JoinOptions{Bind: f.bind, Advertise: f.advertise, Join: join, KeyFile: f.keyFile, SigningKeyFile: f.signingKey,
		ExpectAgents: f.expectAgents, Log: log}
}

// logFlags choose where the coordinator's own log goes: a file in the
// output directory by default (the terminal keeps human lines and bars),
// stderr when a format is asked for.
type logFlags struct {
	format  string
	verbose bool
	debug   bool
}

func (f *logFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "log-format", "", "log to stderr as text or json (default: a log file in the output directory)")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "log to stderr as text beside the progress (same as --log-format text)")
	cmd.Flags().BoolVar(&f.debug, "debug", false, "log debug messages (serf's too)")
}

// open returns the logger and the log file's path ("" when on stderr);
// close the returned file when done.
func (f *logFlags) open(dir string) (*slog.Logger, string, func(), error) {
	if f.verbose && f.format == "" {
		f.format = logging.FormatText
	}
	if f.format != "" {
		l, err := logging.New(os.Stderr, f.format, f.debug)
		return l, "", func() {}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", nil, err
	}
	path := filepath.Join(dir, "coordinator.log")
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", nil, err
	}
	l, err := logging.New(file, logging.FormatJSON, f.debug)
	return l, path, func() { file.Close() }, err
}
