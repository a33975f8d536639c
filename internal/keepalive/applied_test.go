package keepalive

import (
	"testing"
	"time"
)

func TestApplied(t *testing.T) {
	s := Settings{Idle: time.Second, Interval: 3 * time.Second, Count: 10}
	macIdle := s
	macIdle.Idle = 2 * time.Hour
	tests := []struct {
		os   string
		mode Mode
		want Settings
		lose bool
	}{
		{"linux", ModeListener, s, false},
		{"windows", ModeListener, s, false},
		{"darwin", ModeListener, macIdle, true},
		{"darwin", ModePerConn, s, false},
		{"darwin", ModeListenerGoDefault, GoDefault, true},
		{"linux", ModeListenerGoDefault, GoDefault, false},
	}
	for _, tt := range tests {
		p := Platform{OS: tt.os}
		if got := Applied(p, s, tt.mode); got != tt.want {
			t.Errorf("Applied(%s, %s) = %s, want %s", tt.os, tt.mode, got, tt.want)
		}
		if got := LosesListenerIdle(p, tt.mode); got != tt.lose {
			t.Errorf("LosesListenerIdle(%s, %s) = %v, want %v", tt.os, tt.mode, got, tt.lose)
		}
	}
}
