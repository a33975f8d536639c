//go:build !linux

package labsvc

import (
	"context"
	"net/netip"

	"github.com/kalab-dev/kalab/internal/unsupported"
)

// Service is Linux-only: the lab's namespaces exist only there.
type Service struct{}

func errUnsupported() error { return unsupported.Error("running a server in a lab namespace") }

// Start fails: network namespaces are Linux's.
func Start(context.Context, Spec) (*Service, error) { return nil, errUnsupported() }

// Stop does nothing: no Service is ever started here.
func (s *Service) Stop() error { return nil }

// Version is empty here.
func (s *Service) Version() string { return "" }

// PID is 0 here.
func (s *Service) PID() int { return 0 }

// ConfigLines is empty here.
func (s *Service) ConfigLines() []string { return nil }

// Expected is the zero Keepalive here.
func (s *Service) Expected() Keepalive { return Keepalive{} }

// LogPath is empty here.
func (s *Service) LogPath() string { return "" }

// Applied fails.
func (s *Service) Applied(netip.AddrPort) (Keepalive, error) { return Keepalive{}, errUnsupported() }

// Installed: the lab's services run on Linux only.
func Installed(Product) error { return errUnsupported() }
