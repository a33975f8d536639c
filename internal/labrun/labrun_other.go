//go:build !linux

package labrun

import (
	"context"
	"fmt"
	"runtime"
)

// Run: the lab needs Linux network namespaces.
func Run(context.Context, Options) error {
	return fmt.Errorf("--lab: the netns lab is not supported on %s (Linux only); run agents on real hosts instead", runtime.GOOS)
}

// Keep: the lab needs Linux network namespaces.
func Keep(context.Context, Options, func(Info) error) error {
	return Run(context.Background(), Options{})
}
