package keepalive

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestInherit proves on Linux what docs/keepalive-models.md §5, §6.1 says: the
// accepted socket inherits the listener's keepalive options when Go is told
// to leave it alone (listener mode), and Go's default ListenConfig
// overwrites them with 15 s/15 s/9. Run with -v to see the read-back values.
func TestInherit(t *testing.T) {
	asked := Settings{Idle: 11 * time.Second, Interval: 7 * time.Second, Count: 5}
	goDefault := GoDefault
	tests := []struct {
		mode Mode
		want Settings
	}{
		{ModeListener, asked},
		{ModeListenerGoDefault, goDefault},
		{ModePerConn, asked},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", asked, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			lnEff, err := readBackListener(ln)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("listener: %s", lnEff)
			cli, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			conn, err := ln.AcceptTCP()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			eff, err := ReadBack(conn)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("accepted (%s): %s", tt.mode, eff)
			got, ok := eff.Settings()
			if !ok || got != tt.want {
				t.Fatalf("accepted socket has %s (ok=%v), want %s", eff, ok, tt.want)
			}
			if eff.Matches(asked) != (tt.want == asked) {
				t.Errorf("Matches(asked) = %v", eff.Matches(asked))
			}
			if tt.mode == ModePerConn && lnEff.Enabled.Value {
				t.Errorf("per-connection mode must leave the listener alone, it has %s", lnEff)
			}
			if tt.mode != ModePerConn && !lnEff.Matches(asked) {
				t.Errorf("listener has %s, want %s", lnEff, asked)
			}
		})
	}
}

func readBackListener(ln *Listener) (Effective, error) {
	return ReadBack(ln.Listener.(*net.TCPListener))
}

// TestApplyOverridesInherited: per-connection settings win over whatever a
// socket inherited.
func TestApplyOverridesInherited(t *testing.T) {
	ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", Settings{20 * time.Second, 4 * time.Second, 6}, ModeListener)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	conn, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want := Settings{2 * time.Second, 3 * time.Second, 4}
	if err := Apply(conn, want); err != nil {
		t.Fatal(err)
	}
	eff, err := ReadBack(conn)
	if err != nil {
		t.Fatal(err)
	}
	if !eff.Matches(want) || !eff.UserTimeout.Known || eff.UserTimeout.Value != 0 {
		t.Fatalf("after Apply: %s, want %s and TCP_USER_TIMEOUT 0", eff, want)
	}
}

// TestApplyKernelRejects: a value the kernel refuses comes back as an
// error naming the option, not as silently different settings.
func TestApplyKernelRejects(t *testing.T) {
	_, err := Listen(context.Background(), "tcp", "127.0.0.1:0", Settings{time.Second, time.Second, 500}, ModeListener)
	if err == nil {
		t.Fatal("count 500 accepted by the kernel?")
	}
	t.Log(err)
	if want := "TCP_KEEPCNT=500"; !contains(err.Error(), want) {
		t.Fatalf("error %q does not name %s", err, want)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
