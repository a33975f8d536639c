package service

// elevationHint completes "service install: needs …".
const elevationHint = "an elevated token: run it from a terminal opened with \"Run as administrator\" (the service control manager refuses others)"
