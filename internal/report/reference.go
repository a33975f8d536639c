package report

import (
	"time"

	"github.com/kalab-dev/kalab/internal/keepalive"
)

// ReferenceRow is a published figure kalab's measurements are read against.
type ReferenceRow struct {
	// OS and Settings are the published server's OS and keepalive settings.
	OS       string             `json:"os"`
	Settings keepalive.Settings `json:"settings"`
	// Published is the figure as published, measured from Anchor.
	Published time.Duration `json:"published_ns"`
	// Anchor is the instant the published figure is measured from.
	Anchor string `json:"anchor"`
	// Source names the publication; URL links to it.
	Source string `json:"source"`
	URL    string `json:"url"`
	// WindowsModel is idle + count×interval (Windows probes every idle).
	WindowsModel time.Duration `json:"windows_model_ns"`
	// LinuxModel is max(idle, interval) + count×interval from the last ACK,
	// before timer-wheel lateness; LinuxModelHZ250 includes it at HZ=250.
	LinuxModel      time.Duration `json:"linux_model_ns"`
	LinuxModelHZ250 time.Duration `json:"linux_model_hz250_ns"`
	// Note explains how the published figure compares with the models.
	Note string `json:"note"`
}

// The published Windows measurement kalab started from: Windows Server,
// keepalive set on the listening socket, the client's VM paused, detection
// timed from the first lost ping (docs/keepalive-models.md).
const (
	publishedSource = `Jeong Seong-tae, "C# - TCP KeepAlive의 서버 측 구현" (Windows Server, keepalive on the listening socket, client VM paused, timed from the first lost ping)`
	publishedURL    = "https://www.sysnet.pe.kr/2/0/13533"
)

// referenceRows returns the published Windows figures with both OSes' models
// for the same settings.
func referenceRows() []ReferenceRow {
	s := func(idle, intvl time.Duration, cnt int) keepalive.Settings {
		return keepalive.Settings{Idle: idle, Interval: intvl, Count: cnt}
	}
	rows := []ReferenceRow{
		{OS: "windows", Settings: s(time.Second, 3*time.Second, 10), Published: 31200 * time.Millisecond,
			Note: "Windows probes every idle; Linux re-arms at the interval when idle < interval, " +
				"so Linux dies at max(idle, interval) + count×interval = 33 s from the last ACK, plus timer-wheel lateness"},
		{OS: "windows", Settings: s(time.Second, time.Second, 10), Published: 10300 * time.Millisecond,
			Note: "idle = interval: both rules give 11 s from the last answered probe; " +
				"the published figure is timed from \"host went silent\", which can be up to idle after it"},
	}
	for i := range rows {
		r := &rows[i]
		r.Anchor = "host went silent"
		r.Source, r.URL = publishedSource, publishedURL
		r.WindowsModel = modelMin(keepalive.Platform{OS: "windows"}, r.Settings, 0)
		r.LinuxModel = modelMin(keepalive.Platform{OS: "linux"}, r.Settings, 0)
		r.LinuxModelHZ250 = modelMin(keepalive.Platform{OS: "linux"}, r.Settings, 250)
	}
	return rows
}

// modelMin is the model's earliest detection after T0 for answered probes
// cycling; 0 if the model refuses the settings (it cannot for the rows above,
// which the tests pin).
func modelMin(p keepalive.Platform, s keepalive.Settings, hz int) time.Duration {
	pr, err := keepalive.Predict(p, s, keepalive.PhaseCycling, keepalive.ModelOptions{HZ: hz})
	if err != nil {
		return 0
	}
	return pr.FromT0.Min
}
