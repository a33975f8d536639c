//go:build !linux && !darwin && !windows

package keepalive

import "runtime"

func setOptions(fd uintptr, s Settings) error { return unsupported(runtime.GOOS) }

func getOptions(fd uintptr) (Effective, error) { return Effective{}, unsupported(runtime.GOOS) }
