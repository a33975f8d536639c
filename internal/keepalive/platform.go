package keepalive

// LocalPlatform describes this host: its OS and what decides its keepalive
// behaviour (Linux kernel release, Windows build, macOS version). It is
// read once; localPlatform is per OS (platform_<os>.go).
func LocalPlatform() Platform { return localPlatform() }
