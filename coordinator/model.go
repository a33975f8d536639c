package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/advise"
)

func modelCmd() *cobra.Command {
	r := advise.Request{}
	var results []string
	cmd := &cobra.Command{
		Use:   "model [--os LIST] [--scenario idle|unacked|user-timeout] (--idle D --interval D --count N | --detect-within D) [--results FILE...]",
		Short: "Answer from kalab's per-OS keepalive models: detection windows, or settings that detect within a target",
		Long: `Answer from kalab's per-OS keepalive models, instantly and without a cluster
(docs/keepalive-models.md §9).

With --idle, --interval and --count: per OS, when a silent peer is detected
after the last ACK (T0) and after the fault, the rule applied, the settings
the accepted socket really gets in --mode, and the OS quirks that matter.
Linux runs on the timer wheel at --hz (default: this host's HZ).

With --detect-within D: settings (whole seconds) whose worst-case detection
after the fault is at most D on every --os. #1 sends the fewest probes per
idle hour (then has the largest count, then the largest idle); each next one
sends more probes for a larger count. When nothing fits: the tightest time.

--scenario unacked: the server writes after the peer went silent, so the
retransmission timer decides (Linux tcp_retries2 or TCP_USER_TIMEOUT, Windows
TcpMaxDataRetransmissions or TCP_MAXRT, macOS TCP_MAXRXTSHIFT or
TCP_RXT_CONNDROPTIME), from --rtt and this host's values (--os-defaults: stock
ones). --scenario user-timeout: keepalive plus --user-timeout in each OS's
option, and which limit wins. Keepalive settings are optional for unacked.

--results adds, beside each prediction, the median measured in results.jsonl
files for runs of the same OS, settings and mode; files may also follow as
arguments. --json prints one JSON object (advise.Model, advise.Advice or
advise.ScenarioModel, described in docs/keepalive-models.md §9).`,
		Example: `  coordinator model --os linux --idle 1s --interval 1s --count 3 --hz 250
  coordinator model --os linux,windows,macos --idle 1s --interval 3s --count 10
  coordinator model --os windows --windows-build 14393 --idle 1s --interval 1s --count 3
  coordinator model --os macos --mode per-connection --idle 1s --interval 1s --count 3
  coordinator model --detect-within 10s --os linux,windows,macos --mode per-connection
  coordinator model --detect-within 30s --min-count 3 --json
  coordinator model --scenario unacked --rtt 1ms
  coordinator model --scenario unacked --user-timeout 5s --os linux
  coordinator model --scenario user-timeout --user-timeout 3s --idle 1s --interval 1s --count 10
  coordinator model --idle 1s --interval 1s --count 3 --results out/quick/results.jsonl testdata/*.jsonl`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && len(results) == 0 {
				return fmt.Errorf("unexpected argument %q: results files follow --results (e.g. --results out/*/results.jsonl)", args[0])
			}
			files, err := expandArgs(append(results, args...))
			if err != nil {
				return fmt.Errorf("--results: %w", err)
			}
			f := cmd.Flags()
			r.Results = files
			r.IdleSet, r.IntervalSet, r.CountSet = f.Changed("idle"), f.Changed("interval"), f.Changed("count")
			r.HZSet, r.SearchFlagsSet = f.Changed("hz"), f.Changed("min-count") || f.Changed("top")
			r.RTTSet = f.Changed("rtt")
			if r.DetectWithin == 0 && f.Changed("detect-within") {
				return fmt.Errorf("--detect-within 0s: give a positive target, e.g. 10s")
			}
			return advise.Run(cmd.OutOrStdout(), cmd.ErrOrStderr(), r)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&r.OS, "os", "linux,windows,macos", "OSes to model, comma-separated: linux, windows, macos (or darwin)")
	fs.DurationVar(&r.Idle, "idle", 0, "keepalive idle time, e.g. 1s")
	fs.DurationVar(&r.Interval, "interval", 0, "keepalive probe interval, e.g. 3s")
	fs.IntVar(&r.Count, "count", 0, "keepalive probe count, e.g. 10")
	fs.StringVar(&r.Mode, "mode", "listener", "where the server sets keepalive: listener, per-connection or listener-go-default")
	fs.IntVar(&r.HZ, "hz", 0, "Linux tick rate to model (default: this host's, or 250 off Linux; 0 = unknown)")
	fs.DurationVar(&r.UserTimeout, "user-timeout", 0, "cap on unacknowledged time, e.g. 5s: Linux TCP_USER_TIMEOUT; with --scenario unacked or user-timeout also Windows TCP_MAXRT, macOS TCP_RXT_CONNDROPTIME (0 = unset)")
	fs.StringVar(&r.Scenario, "scenario", "idle", "idle (keepalive), unacked (the server writes after the fault) or user-timeout (keepalive and --user-timeout)")
	fs.DurationVar(&r.RTT, "rtt", time.Millisecond, "with --scenario unacked: the smoothed RTT before the fault, which sets the first RTO")
	fs.BoolVar(&r.OSDefaults, "os-defaults", false, "with --scenario unacked: stock retransmission values for every OS, not this host's")
	fs.IntVar(&r.WindowsBuild, "windows-build", 0, "Windows build to model, e.g. 14393 (default: 1709 or later)")
	fs.DurationVar(&r.DetectWithin, "detect-within", 0, "search settings whose worst-case detection after the fault is at most this on every OS")
	fs.IntVar(&r.MinCount, "min-count", 1, "with --detect-within: the smallest probe count to suggest")
	fs.IntVar(&r.Top, "top", 3, "with --detect-within: how many suggestions to print (1..20)")
	fs.StringSliceVar(&results, "results", nil, "results.jsonl files (or patterns) to compare with; more may follow as arguments")
	fs.BoolVar(&r.JSON, "json", false, "print one JSON object (documented on advise.Model and advise.Advice)")
	return cmd
}
