package experiment

import (
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

// LabService is what the lab says about the service it started for a
// [target] (product, version, configuration lines), for the results.
type LabService struct {
	// Product and Version name the service ("redis", "redis-server
	// 7.0.15").
	Product string `json:"product"`
	Version string `json:"version"`
	// ConfigLines are the lines of its configuration that set keepalive;
	// none: its defaults.
	ConfigLines []string `json:"config_lines,omitempty"`
}

// targetOf starts a run's description of the target from what the agent
// on its host found (the socket's owner) and what the lab started.
func (e *Executor) targetOf(ob wire.ObserveResp) *results.Target {
	t := e.Config.Target
	rt := &results.Target{Agent: t.Agent, Port: t.Port, Process: ob.Process, PID: ob.PID, Method: results.MethodObserved}
	if rt.Process == "" {
		rt.Process = t.Process
	}
	if s := e.LabService; s != nil {
		rt.Product, rt.Version, rt.ConfigLines = s.Product, s.Version, s.ConfigLines
	}
	return rt
}
