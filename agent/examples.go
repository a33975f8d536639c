package main

// examples are the Examples sections of the agent's commands, by command
// path; the commands themselves live in internal packages (agentd, service,
// doctor), which leave them to the binary that assembles the tree.
var examples = map[string]string{
	"agent": `  sudo agent doctor -c /etc/kalab/agent.toml
  sudo agent service install -c /etc/kalab/agent.toml && sudo agent service start
  sudo agent run -c /etc/kalab/agent.toml`,
	"agent run": `  sudo agent run -c /etc/kalab/agent.toml
  sudo agent run -c /etc/kalab/agent.toml --log-format text --debug
  sudo agent run --name linux-1 --bind 0.0.0.0:7946 --advertise 192.0.2.10:7946 --join 192.0.2.20:7946 \
    --key-file /etc/kalab/kalab.key --coordinator-key /etc/kalab/coordinator.pub --data-dir /var/lib/kalab`,
	"agent deadman": `  agent deadman --entry /var/lib/kalab/faults/<run>.json   # started by the agent itself, not by hand`,
	"agent doctor": `  sudo agent doctor -c /etc/kalab/agent.toml
  sudo agent doctor -c /etc/kalab/agent.toml --json
  C:\kalab\agent.exe doctor -c C:\kalab\agent.toml          # elevated PowerShell`,
	"agent service": `  sudo agent service install -c /etc/kalab/agent.toml
  sudo agent service start
  agent service status`,
	"agent service install": `  sudo agent service install -c /etc/kalab/agent.toml
  sudo agent service install -c /usr/local/etc/kalab/agent.toml   # macOS
  C:\kalab\agent.exe service install -c C:\kalab\agent.toml      # elevated PowerShell`,
	"agent service uninstall": `  sudo agent service uninstall`,
	"agent service start":     `  sudo agent service start`,
	"agent service stop":      `  sudo agent service stop    # the agent heals its faults and leaves the cluster`,
	"agent service status":    `  agent service status       # macOS: sudo agent service status`,
	"agent service run":       `  agent service run -c /etc/kalab/agent.toml   # what the installed service executes, not for people`,
}
