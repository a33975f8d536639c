package keepalive

import (
	"fmt"
	"strconv"
	"time"
)

// Heartbeat is an application-level liveness check, the alternative
// engineers weigh against keepalive: the server writes a heartbeat every
// Period, the peer answers each one, and the server declares the peer dead
// once Misses periods pass without an answer (a read deadline of
// Misses × Period, reset by every answer). Keepalive is off on the
// connection. Unlike keepalive it notices a peer whose kernel still
// acknowledges but whose process is frozen (a paused process), and it
// behaves the same on every OS: only the application's timer decides
// (docs/keepalive-models.md §4.5).
type Heartbeat struct {
	// Period is the time between heartbeats.
	Period time.Duration `json:"period_ns"`
	// Misses is how many periods without an answer make the peer dead.
	Misses int `json:"misses"`
}

// Heartbeat bounds: the period is a timer in the application (1 ms is
// already more traffic than anyone would send); misses is a small count.
const (
	HeartbeatMinPeriod = time.Millisecond
	HeartbeatMaxPeriod = time.Hour
	HeartbeatMaxMisses = 1000
)

// IsZero reports whether no heartbeat is set.
func (h Heartbeat) IsZero() bool { return h.Period == 0 && h.Misses == 0 }

// Deadline is how long the server waits after an answer before it
// declares the peer dead: Misses × Period.
func (h Heartbeat) Deadline() time.Duration { return time.Duration(h.Misses) * h.Period }

// Short writes the heartbeat as labels show it: "heartbeat 200ms×3".
func (h Heartbeat) Short() string {
	return "heartbeat " + ShortDuration(h.Period) + "×" + strconv.Itoa(h.Misses)
}

// Validate checks the period (1ms..1h) and misses (1..1000).
func (h Heartbeat) Validate() error {
	if h.Period < HeartbeatMinPeriod || h.Period > HeartbeatMaxPeriod {
		return fmt.Errorf("heartbeat period %s: allowed %s..%s", h.Period, HeartbeatMinPeriod, HeartbeatMaxPeriod)
	}
	if h.Misses < 1 || h.Misses > HeartbeatMaxMisses {
		return fmt.Errorf("heartbeat misses %d: allowed 1..%d", h.Misses, HeartbeatMaxMisses)
	}
	return nil
}

// HeartbeatSlack is how late the application's deadline may fire after
// Misses × Period without counting as a deviation: Go's timer and the
// scheduler, on a loaded 2-core host, plus the answer's own trip.
const HeartbeatSlack = 20 * time.Millisecond

// PredictHeartbeat models the heartbeat scenario on p. T0 is the last
// answer the server read: detection comes Misses × Period after it, on
// every OS. The fault lands somewhere between two heartbeats, after the
// last one that was answered, so detection − fault lies in
// ((Misses−1) × Period, Misses × Period] (plus rtt, the answer's trip).
func PredictHeartbeat(p Platform, h Heartbeat, rtt time.Duration) (Prediction, error) {
	if err := h.Validate(); err != nil {
		return Prediction{}, err
	}
	d := h.Deadline()
	return Prediction{
		Platform:   p,
		Phase:      PhaseCycling,
		FromT0:     Window{Min: d, Max: d + HeartbeatSlack},
		Cycle:      Window{Min: h.Period, Max: h.Period},
		AfterFault: Window{Min: d - h.Period, Max: d + rtt + HeartbeatSlack},
		Probes:     h.Misses,
		Rule: fmt.Sprintf("application heartbeat every %s, the peer declared dead after %d periods without an answer: "+
			"a read deadline of %s reset by every answer, the same on every OS (keepalive off)", ShortDuration(h.Period), h.Misses, ShortDuration(d)),
	}, nil
}

// Label names a cell's mechanism as plans, run names and reports show it:
// the keepalive settings with the scenario ("1s/1s/10", "1s/1s/10
// unacked uto 5s"), or the heartbeat alone ("heartbeat 200ms×3"), whose
// connection has keepalive off.
func Label(s Settings, sc Scenario, uto time.Duration, h Heartbeat) string {
	if sc == ScenarioHeartbeat {
		return h.Short()
	}
	return s.Short() + ScenarioLabel(sc, uto)
}
