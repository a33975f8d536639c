// Command coordinator plans kalab experiments, drives the agents and writes
// the cross-OS report. The commands arrive with the end-to-end issue; for
// now it only prints its usage.
package main

import (
	"fmt"
	"os"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fmt.Fprintln(os.Stderr, `usage: coordinator <command>

Commands (not built yet): experiment run|plan|validate, members, report, keygen, lab.`)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return 0
	}
	return 2
}
