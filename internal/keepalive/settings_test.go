package keepalive

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	sec := time.Second
	linux := Platform{OS: "linux"}
	darwin := Platform{OS: "darwin"}
	win1709 := Platform{OS: "windows", Build: 16299}
	win1703 := Platform{OS: "windows", Build: 15063}
	win1607 := Platform{OS: "windows", Build: 14393}
	tests := []struct {
		name string
		p    Platform
		s    Settings
		// wantErr lists substrings the error must contain; empty = valid.
		wantErr []string
	}{
		{"linux 1/3/10 as published for Windows", linux, Settings{sec, 3 * sec, 10}, nil},
		{"linux max", linux, Settings{32767 * sec, 32767 * sec, 127}, nil},
		{"linux count 128", linux, Settings{sec, sec, 128}, []string{"count = 128", "linux", "1..127"}},
		{"linux count 0", linux, Settings{sec, sec, 0}, []string{"count = 0", "1..127"}},
		{"linux idle 32768s", linux, Settings{32768 * sec, sec, 3}, []string{"idle = 9h6m8s", "1s..9h6m7s"}},
		{"linux idle 0", linux, Settings{0, sec, 3}, []string{"idle = 0s"}},
		{"linux sub-second", linux, Settings{1500 * time.Millisecond, sec, 3}, []string{"idle = 1.5s", "whole multiples of 1s"}},
		{"linux interval and count both bad", linux, Settings{sec, 0, 200}, []string{"interval = 0s", "count = 200"}},
		{"darwin 1/1/3", darwin, Settings{sec, sec, 3}, nil},
		{"darwin big count", darwin, Settings{sec, sec, 1 << 20}, nil},
		{"darwin sub-second", darwin, Settings{sec, 250 * time.Millisecond, 3}, []string{"interval = 250ms", "darwin"}},
		{"darwin count 0 means sysctl, refused", darwin, Settings{sec, sec, 0}, []string{"count = 0"}},
		{"windows 1709 1/3/10", win1709, Settings{sec, 3 * sec, 10}, nil},
		{"windows 1709 count 255", win1709, Settings{sec, sec, 255}, nil},
		{"windows 1709 count 256", win1709, Settings{sec, sec, 256}, []string{"count = 256", "windows (build 16299)", "1..255"}},
		{"windows 1709 ms refused", win1709, Settings{1500 * time.Millisecond, sec, 3}, []string{"whole multiples of 1s"}},
		{"windows 1703 ms allowed (SIO_KEEPALIVE_VALS)", win1703, Settings{1500 * time.Millisecond, 250 * time.Millisecond, 3}, nil},
		{"windows 1607 count fixed 10 ok", win1607, Settings{sec, sec, 10}, nil},
		{"windows 1607 count 0 ok", win1607, Settings{sec, sec, 0}, nil},
		{"windows 1607 count 3 refused", win1607, Settings{sec, sec, 3}, []string{"count = 3", "only 10", "15063"}},
		{"plan9", Platform{OS: "plan9"}, Settings{sec, sec, 3}, []string{"not supported on plan9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate(tt.p)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want nil", tt.s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%s) = nil, want error containing %q", tt.s, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateFieldErrorType(t *testing.T) {
	err := Settings{time.Second, time.Second, 500}.Validate(Platform{OS: "linux"})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "count" || fe.Allowed != "1..127" {
		t.Fatalf("want a *FieldError for count with range 1..127, got %#v", err)
	}
}

func TestLimitsInheritance(t *testing.T) {
	for _, tt := range []struct {
		os   string
		want bool
	}{{"linux", true}, {"windows", true}, {"darwin", false}} {
		l, err := LimitsFor(Platform{OS: tt.os})
		if err != nil {
			t.Fatal(err)
		}
		if l.IdleInherited != tt.want {
			t.Errorf("%s IdleInherited = %v, want %v (docs/keepalive-models.md §2)", tt.os, l.IdleInherited, tt.want)
		}
	}
}
