// Package unsupported makes kalab's one kind of "not supported on <os>"
// error. kalab never fakes another OS's behaviour: where an OS lacks a
// mechanism, the code for that OS returns this error, and callers test for
// it with errors.Is(err, errors.ErrUnsupported).
package unsupported

import (
	"errors"
	"runtime"
)

// Error says that what is not supported on this OS.
func Error(what string) error { return On(what, runtime.GOOS) }

// On says that what is not supported on goos (an OS the caller describes,
// such as a remote agent's).
func On(what, goos string) error { return &notSupported{what: what, goos: goos} }

// notSupported renders as "<what>: not supported on <os>" and unwraps to
// errors.ErrUnsupported.
type notSupported struct{ what, goos string }

func (e *notSupported) Error() string { return e.what + ": not supported on " + e.goos }
func (e *notSupported) Unwrap() error { return errors.ErrUnsupported }
