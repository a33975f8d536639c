// Package privilege answers one question for every part of kalab: does
// this process have the OS's administrative privilege (root on Unix, an
// elevated token on Windows)? Faults (nftables, pf, WFP), the service
// manager and doctor all depend on it.
package privilege
