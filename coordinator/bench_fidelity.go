package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/fidelity"
)

// benchFidelityCmd is `bench fidelity`: kalab's timing error against a
// packet capture of the same runs (internal/fidelity, docs/benchmarks.md).
func benchFidelityCmd() *cobra.Command {
	var out, agentBin string
	var inLab bool
	var n int
	cmd := &cobra.Command{
		Use:   "fidelity --lab [-n 50] [-o DIR]",
		Short: "Measure kalab's own timing error against a packet capture of repeated drop runs in the lab",
		Long: `Runs keepalive 1s/1s/3 and 1s/3s/3 against a host drop n times each in the netns lab, with tcpdump
(Debian's package tcpdump) capturing on every agent host, then compares each run's record with the server
host's capture: detection vs the server's RST, T0 vs the client's last segment, each probe vs the captured
probe, the fault vs the client's last packet, and the published ICMP method (32 ms pings, 300 ms timeout)
emulated on the captured pings. Prints median, p95, p99 and max of each error and writes DIR/fidelity.json.`,
		Example: `  coordinator bench fidelity --lab -n 50
  coordinator bench fidelity --lab -n 3 -o out/bench-fidelity`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !inLab {
				return errors.New("bench fidelity needs --lab: it captures packets on the netns lab's hosts (Linux, root)")
			}
			if n < 1 || n > 1000 {
				return fmt.Errorf("-n %d: allowed 1..1000", n)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			path := filepath.Join(out, "bench-fidelity.toml")
			if err := os.WriteFile(path, []byte(fidelity.Config(n)), 0o644); err != nil {
				return err
			}
			c, _, err := experiment.LoadPlan(path)
			if err != nil {
				return err
			}
			capture := filepath.Join(out, "capture")
			if err := os.RemoveAll(capture); err != nil {
				return err
			}
			_ = os.Remove(filepath.Join(out, experiment.ResultsFile)) // a fresh execution, not a merge with the last
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			runErr := runInLabCapture(ctx, c, path, out, agentBin, logFlags{}, false, capture)
			var ee *exitError
			if runErr != nil && !errors.As(runErr, &ee) { // a run's deviation still leaves records to compare
				return runErr
			}
			rep, err := fidelity.Analyze(filepath.Join(out, experiment.ResultsFile), capture)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if err := printAndSave(w, rep, out, "fidelity.json"); err != nil {
				return err
			}
			if runErr != nil { // the figures stand; say why the experiment's status was not 0
				fmt.Fprintf(w, "note: the experiment itself exited with %v (its output above); its records were compared\n", runErr)
			}
			if rep.Compared == 0 {
				return errors.New("bench fidelity: no run could be compared with the capture")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&inLab, "lab", false, "build a netns lab on this machine (Linux, root), run and capture there, tear it down (required)")
	cmd.Flags().IntVarP(&n, "n", "n", 50, "repetitions of each setting")
	cmd.Flags().StringVarP(&out, "out", "o", filepath.Join("out", "bench-fidelity"), "output directory: the experiment's files, capture/, fidelity.json")
	cmd.Flags().StringVar(&agentBin, "agent-bin", "", "agent binary the lab starts (default: agent beside this coordinator, or on PATH)")
	return cmd
}
