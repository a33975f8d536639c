package concbench

import (
	"testing"

	"github.com/kalab-dev/kalab/internal/agentd"
	"github.com/kalab-dev/kalab/internal/experiment"
)

// TestLimitsMatchTheAgent: the bench's ceilings are the agent's own (the
// coordinator may not link the agent, so they are copied here).
func TestLimitsMatchTheAgent(t *testing.T) {
	if MaxConns != agentd.MaxMaxRuns {
		t.Errorf("MaxConns %d, the agent's max_runs limit %d", MaxConns, agentd.MaxMaxRuns)
	}
	if AgentMaxRuns(1) != agentd.DefaultMaxRuns || AgentMaxRuns(500) != 500 {
		t.Errorf("AgentMaxRuns(1) = %d (want the agent's default %d), AgentMaxRuns(500) = %d", AgentMaxRuns(1), agentd.DefaultMaxRuns, AgentMaxRuns(500))
	}
}

// TestConfigLoads: each phase's experiment file is valid as written, also
// beyond the 100 repetitions a file allows (the bench sets the rest).
func TestConfigLoads(t *testing.T) {
	for _, reps := range []int{1, 100, 1000} {
		c, err := experiment.Parse("bench-concurrency.toml", []byte(Config("bench-concurrency-concurrent", reps)))
		if err != nil {
			t.Fatalf("%d repetitions: %v", reps, err)
		}
		if c.Repetitions != min(reps, 100) {
			t.Errorf("%d repetitions: the file says %d", reps, c.Repetitions)
		}
	}
}
