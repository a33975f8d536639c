// Package cli holds the conventions both kalab binaries' command trees
// follow, so `agent` and `coordinator` read alike: -c/--config names a
// config file and -o/--out an output, every command (cobra's help and
// completion included) has an Examples section, and `version` says which
// build this is.
package cli

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kalab-dev/kalab/internal/version"
)

// Shorthands are the one-letter spellings of the long flags both binaries
// share: wherever a command has --config it also takes -c, and --out -o.
var Shorthands = map[string]string{"config": "c", "out": "o"}

// Finish applies the conventions to root's whole tree; call it once every
// command was added. It adds cobra's help and completion commands now
// (Execute would add them later) so they get examples too; examples, keyed
// by command path ("agent service install"), fill the commands that have
// no Example of their own.
func Finish(root *cobra.Command, examples map[string]string) {
	leaf := firstLeaf(root)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	name := root.Name()
	generated := map[string]string{
		name + " help": fmt.Sprintf("  %s help\n  %s help %s", name, name, leaf),
		name + " completion": fmt.Sprintf("  %s completion bash > /etc/bash_completion.d/%s\n  %s completion powershell >> $PROFILE",
			name, name, name),
		name + " completion bash":       fmt.Sprintf("  source <(%s completion bash)\n  %s completion bash > /etc/bash_completion.d/%s", name, name, name),
		name + " completion zsh":        fmt.Sprintf("  %s completion zsh > \"${fpath[1]}/_%s\"", name, name),
		name + " completion fish":       fmt.Sprintf("  %s completion fish > ~/.config/fish/completions/%s.fish", name, name),
		name + " completion powershell": fmt.Sprintf("  %s completion powershell | Out-String | Invoke-Expression", name),
	}
	Walk(root, func(c *cobra.Command) {
		if c.Example == "" {
			c.Example = examples[c.CommandPath()]
		}
		if c.Example == "" {
			c.Example = generated[c.CommandPath()]
		}
	})
}

// Walk calls fn for root and every command below it, hidden ones included.
func Walk(root *cobra.Command, fn func(*cobra.Command)) {
	fn(root)
	for _, c := range root.Commands() {
		Walk(c, fn)
	}
}

// firstLeaf is the path below root of its first visible runnable command,
// e.g. "experiment plan": what `help` shows in its example.
func firstLeaf(root *cobra.Command) string {
	leaf := ""
	Walk(root, func(c *cobra.Command) {
		if leaf == "" && c != root && c.Runnable() && !c.Hidden {
			leaf = strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		}
	})
	return leaf
}

// VersionCommand is `NAME version`: the release's version, commit and date,
// or for a go build what the Go toolchain recorded (internal/version).
func VersionCommand(name string) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version (release builds: version, commit, date; go builds: module version, VCS revision and time)",
		Example: "  " + name + " version",
		Args:    cobra.NoArgs,
		Run:     func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), name, version.String()) },
	}
}

// Problems lists where root's tree breaks the conventions: a command
// without an Example, a --config or --out without its shorthand. The
// binaries' tests call it on their finished trees.
func Problems(root *cobra.Command) []string {
	var out []string
	Walk(root, func(c *cobra.Command) {
		if strings.TrimSpace(c.Example) == "" {
			out = append(out, fmt.Sprintf("%q has no Example", c.CommandPath()))
		}
		for long, short := range Shorthands {
			if f := c.Flags().Lookup(long); f != nil && f.Shorthand != short {
				out = append(out, fmt.Sprintf("%q: --%s has shorthand %q, want -%s", c.CommandPath(), long, f.Shorthand, short))
			}
		}
	})
	return out
}

// Verify is Problems plus what a binary's test asks of its finished tree:
// flags, by command path ("coordinator experiment run"), that must exist
// with their shorthand (Shorthands; none for other flags), and a `version`
// command that prints the binary's name and a version, not the ldflags'
// placeholders "dev (none, unknown)".
func Verify(root *cobra.Command, flags map[string][]string) []string {
	out := Problems(root)
	byPath := map[string]*cobra.Command{}
	Walk(root, func(c *cobra.Command) { byPath[c.CommandPath()] = c })
	for path, names := range flags {
		c := byPath[path]
		if c == nil {
			out = append(out, fmt.Sprintf("no command %q", path))
			continue
		}
		for _, n := range names {
			if f := c.Flags().Lookup(n); f == nil || f.Shorthand != Shorthands[n] {
				out = append(out, fmt.Sprintf("%q: want --%s with shorthand %q", path, n, Shorthands[n]))
			}
		}
	}
	v := byPath[root.Name()+" version"]
	if v == nil || v.Run == nil {
		return append(out, "no version command")
	}
	var buf bytes.Buffer
	v.SetOut(&buf)
	v.Run(v, nil)
	v.SetOut(nil)
	if got := strings.TrimSpace(buf.String()); !strings.HasPrefix(got, root.Name()+" ") || strings.Contains(got, "dev (none, unknown)") {
		out = append(out, fmt.Sprintf("%s version printed %q", root.Name(), got))
	}
	return out
}

// ErrorLine is how a binary reports a failed command on stderr: the error
// after "NAME: ", unless the error already starts with it (errors from
// internal packages often name the binary themselves).
func ErrorLine(name string, err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, name+": ") {
		return msg
	}
	return name + ": " + msg
}
