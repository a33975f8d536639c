package report

// Term is one entry of the glossary that ends report.md and report.html.
type Term struct {
	// Name is the term; Text what it means in this report.
	Name string
	Text string
}

// glossary explains the words the report still uses after the answer.
var glossary = []Term{
	{"T0", "the last moment the server heard from its peer before the fault: on Linux the last ACK TCP_INFO reports, " +
		"read in whole kernel ticks; for a heartbeat the last answer the application read. The keepalive model counts from it."},
	{"anchor", "an instant a detection time is counted from: T0, the fault (\"after it went silent\"), or the first lost ping. " +
		"Every time in the tables is detection − anchor."},
	{"cell", "one line of an experiment's plan: settings, mode, scenario and fault, run a number of repetitions."},
	{"group", "every run with the same server OS and version, mechanism, mode, fault and source (G1, G2, …): " +
		"the rows of the tables and the unit of comparison."},
	{"fixture", "a result built from the model, not measured; labelled \"fixture\" everywhere, its times only echo the model."},
	{"lab", "measured in kalab's Linux lab (network namespaces or lab VMs on one machine, docs/linux-lab.md), " +
		"as opposed to \"hosts\", measured between real agents."},
	{"emulated", "a VM pause played by a host drop plus SIGSTOP, where no hypervisor could pause the client's VM."},
	{"model window", "when the model says the server gives up: keepalive.Predict for the settings the socket really had " +
		"(the retransmission model for unacked, the heartbeat's deadline for a heartbeat), from T0 or after the fault."},
	{"lateness", "detection − T0 minus the model's earliest detection: how much later than the earliest possible moment the server gave up."},
	{"report schema", "the version of report.json's layout (docs/report-json.md); it changes when a field changes meaning or disappears."},
}
