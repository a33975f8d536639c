// Package e2e holds end-to-end tests that drive the real coordinator and
// agent binaries in the netns lab (as root): interactive sessions and real
// services as targets. They live apart from the coordinator's own tests so
// that each package's test binary stays inside go test's 10-minute limit.
package e2e
