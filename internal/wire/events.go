package wire

// Event kinds (Event.Kind), in the order a session usually shows them.
const (
	// EventAccept: the server accepted the run's connection (server agent).
	EventAccept = "accept"
	// EventGreeting: the server sent its greeting; the client is ready.
	EventGreeting = "greeting"
	// EventOptions: the keepalive options read back from the accepted
	// socket (Text says them).
	EventOptions = "options"
	// EventPeer: the last sign of life from the client the server's
	// kernel saw (TCP_INFO last-received age), reported when it moves:
	// each answered probe, each echo.
	EventPeer = "peer"
	// EventProbe: a keepalive probe the server's kernel sent, not
	// answered when the agent looked (Linux TCP_INFO probes counter);
	// Probe is its number. An answer shows as the EventPeer that follows.
	EventProbe = "probe"
	// EventICMPLost and EventICMPBack: the server's pings to the client's
	// host stopped or resumed being answered.
	EventICMPLost = "icmp-lost"
	EventICMPBack = "icmp-back"
	// EventFault and EventHeal: the client agent applied or removed a
	// fault (Text says which and how).
	EventFault = "fault"
	EventHeal  = "heal"
	// EventEcho: bytes crossed the connection both ways after a heal
	// (Text has the round trip) or failed to (Errno empty, Text why).
	EventEcho = "echo"
	// EventDetection: the server's socket failed: the detection, with the
	// errno name (ETIMEDOUT, ECONNRESET, EOF…) in Errno.
	EventDetection = "detection"
	// EventEnded: the run's role ended without a detection (TTL, cleanup).
	EventEnded = "ended"
)

// Event is one thing that happened to a run, on the agent that saw it.
type Event struct {
	// Seq numbers the agent's events of the run from 1, without gaps.
	Seq int64 `json:"seq"`
	// AtNS is when it happened, in ns since the Unix epoch on the agent's
	// clock (the coordinator moves it onto the server's clock).
	AtNS int64 `json:"at_ns"`
	// Kind is one of the Event* names.
	Kind string `json:"kind"`
	// Text says the details for people (cut to 120 bytes).
	Text string `json:"text,omitempty"`
	// Errno is the detection's errno name.
	Errno string `json:"errno,omitempty"`
	// Probe is the probe's number (EventProbe).
	Probe int `json:"probe,omitempty"`
}

// MaxRunEvents bounds the events an agent keeps per run; older ones are
// dropped first (EventsResp.Dropped counts them).
const MaxRunEvents = 4096

// EventsReq asks for a run's events after a sequence number and may
// subscribe a node to the later ones.
type EventsReq struct {
	// Run is the run (or session) whose events to return; the agent
	// refuses a run it holds no state for.
	Run string `json:"run"`
	// After returns only events with Seq > After (0: from the first).
	After int64 `json:"after,omitempty"`
	// Subscribe, when set, is the serf node name the agent pushes the
	// run's later events to (PushEvents queries, EventPush), as they
	// happen, until the run's state is removed. A run keeps up to 4
	// subscribers (several people may watch one session), each pushed on
	// its own; a fifth replaces the one that subscribed first. Events a
	// push could not deliver stay in the agent's log for the next
	// EventsReq.
	Subscribe string `json:"subscribe,omitempty"`
}

// EventsResp is a page of events: as many as fit ResponseBudget, oldest
// first.
type EventsResp struct {
	// Events are the run's events after EventsReq.After, in Seq order.
	Events []Event `json:"events"`
	// More is true when later events did not fit: ask again after the
	// last one returned.
	More bool `json:"more,omitempty"`
	// Dropped is how many of the run's events the agent no longer holds
	// (MaxRunEvents); they are older than the first one returned.
	Dropped int64 `json:"dropped,omitempty"`
	// Done is true when the run's role has ended: no more events come
	// from this agent for it.
	Done bool `json:"done,omitempty"`
}

// EventPush is the payload of a PushEvents query: events of one run from
// one agent, as many as fit CommandBudget. The subscriber answers with
// any payload (the answer is the acknowledgement); an unacknowledged
// push is not retried, the events stay in the agent's log.
type EventPush struct {
	// Agent is the pushing agent's node name; Run the run.
	Agent string `json:"agent"`
	Run   string `json:"run"`
	// Events are in Seq order.
	Events []Event `json:"events"`
	// Done: see EventsResp.Done.
	Done bool `json:"done,omitempty"`
}
