// Package keepalive owns everything kalab knows about TCP keepalive on one
// host: the Settings an experiment asks for, each OS's limits and units, how
// the settings are put on a listening socket (inherit mode) or on one
// accepted connection (per-connection mode), what the kernel really applied
// (read back with getsockopt), and the Model: when each OS declares a silent
// peer dead.
//
// It knows nothing about serf, faults or reports.
//
// Sources for every rule are cited next to the code; the summary is
// docs/keepalive-models.md (§ numbers below refer to it).
package keepalive
