// Command agent runs on every host of a kalab cluster. The daemon arrives
// with the end-to-end issue; for now it only prints its usage.
package main

import (
	"fmt"
	"os"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fmt.Fprintln(os.Stderr, `usage: agent <command>

kalab's host agent: joins the cluster and plays the keepalive server or client
role on command. Commands (run, service, doctor) are not built yet.`)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return 0
	}
	return 2
}
