package service

import (
	"fmt"

	ks "github.com/kardianos/service"
)

// detectManager: the service control manager is part of every Windows;
// whether this process may talk to it is the privilege check's business.
func detectManager() error {
	if p := ks.Platform(); p != "windows-service" {
		return fmt.Errorf("kardianos/service chose %q instead of the Windows service control manager", p)
	}
	return nil
}
