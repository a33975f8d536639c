package session

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
	"github.com/kalab-dev/kalab/internal/wire"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func ns(ms float64) int64 { return t0.Add(time.Duration(ms * float64(time.Millisecond))).UnixNano() }

func testSession() *experiment.Session {
	return &experiment.Session{ID: "abc", Key: "session-abc", StartedAt: t0,
		Server: results.Host{Name: "srv", OS: "linux", HZ: 250},
		// The client's clock runs 40 ms ahead of the coordinator's (and
		// the server's): a client instant is 40 ms early on the server's.
		Client:   results.Host{Name: "cli", OS: "linux", ClockOffset: 40 * time.Millisecond},
		Settings: keepalive.Settings{Idle: time.Second, Interval: time.Second, Count: 3}, Mode: keepalive.ModeListener}
}

// TestTimeline: events of both agents, out of order and duplicated, come
// out once, in time order on the server's clock; a drop brings a model
// line from the last ACK; the countdown follows the window.
func TestTimeline(t *testing.T) {
	s := testSession()
	tl := NewTimeline(s, keepalive.Effective{})
	var got []Line
	got = append(got, tl.Add("srv", []wire.Event{
		{Seq: 2, AtNS: ns(5), Kind: wire.EventGreeting},
		{Seq: 1, AtNS: ns(4), Kind: wire.EventAccept},
		{Seq: 3, AtNS: ns(2000), Kind: wire.EventPeer, Text: "last ACK from the client"},
	})...)
	got = append(got, tl.Add("srv", []wire.Event{{Seq: 2, AtNS: ns(5), Kind: wire.EventGreeting}})...) // a push after the fetch
	got = append(got, tl.Add("cli", []wire.Event{{Seq: 1, AtNS: ns(2540), Kind: wire.EventFault, Text: "drop/flow/both: nftables rule"}})...)
	if tl.After("srv") != 3 || tl.After("cli") != 1 {
		t.Errorf("After = %d, %d; want 3, 1", tl.After("srv"), tl.After("cli"))
	}
	kinds := []string{}
	for _, l := range got {
		kinds = append(kinds, l.Kind)
	}
	if want := "accept greeting peer fault model"; strings.Join(kinds, " ") != want {
		t.Fatalf("kinds %v, want %s", kinds, want)
	}
	if f := got[3]; f.Role != "client" || f.T != 2500*time.Millisecond {
		t.Errorf("the client's fault at %v (%s), want +2.5 s on the server's clock", f.T, f.Role)
	}
	pred, err := s.Predict(keepalive.Effective{})
	if err != nil {
		t.Fatal(err)
	}
	peer := t0.Add(2 * time.Second)
	if !tl.ExpectFrom.Equal(peer.Add(pred.FromT0.Min)) || !tl.ExpectTo.Equal(peer.Add(pred.FromT0.Max)) {
		t.Errorf("expected detection %v – %v, want the last ACK + %v", tl.ExpectFrom, tl.ExpectTo, pred.FromT0)
	}
	if c := tl.Countdown(peer.Add(time.Second)); !strings.HasPrefix(c, "model: detection in ") {
		t.Errorf("countdown before the window: %q", c)
	}
	if c := tl.Countdown(tl.ExpectTo.Add(time.Second)); c != "model: detection overdue by 1.0 s" {
		t.Errorf("countdown after the window: %q", c)
	}
	var b bytes.Buffer
	for _, l := range got {
		if err := tl.WriteJSON(&b, l); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[4]), &m); err != nil || m["kind"] != KindModel || m["from_s"] == nil || m["to_s"] == nil {
		t.Errorf("model line %s (%v)", lines[4], err)
	}
	b.Reset()
	tl.WritePlain(&b, got[0])
	if want := "   +0.004 s  server  accept      \n"; b.String() != want {
		t.Errorf("plain line %q, want %q", b.String(), want)
	}
	got = tl.Add("srv", []wire.Event{{Seq: 4, AtNS: ns(6100), Kind: wire.EventDetection, Errno: "ETIMEDOUT"}})
	if len(got) != 1 || !tl.Detected() || tl.Countdown(t0.Add(7*time.Second)) != "" {
		t.Errorf("after the detection: %v, detected %v", got, tl.Detected())
	}
}

// TestTimelineLatePeer: a sign of life from before the fault that
// arrives after it (a lost push, fetched again) moves the model, whose
// line stays at the fault.
func TestTimelineLatePeer(t *testing.T) {
	tl := NewTimeline(testSession(), keepalive.Effective{})
	tl.Add("srv", []wire.Event{{Seq: 1, AtNS: ns(1000), Kind: wire.EventPeer}})
	tl.Add("cli", []wire.Event{{Seq: 1, AtNS: ns(2540), Kind: wire.EventFault, Text: "drop: rules"}})
	got := tl.Add("srv", []wire.Event{{Seq: 2, AtNS: ns(2000), Kind: wire.EventPeer}})
	if len(got) != 2 || got[1].Kind != KindModel || got[1].T != 2500*time.Millisecond || !tl.ExpectFrom.After(t0.Add(2*time.Second)) {
		t.Errorf("late peer: %+v, expected from %v", got, tl.ExpectFrom)
	}
}

// TestTimelinePauseHasNoModel: a paused process's kernel keeps answering,
// so no detection is modelled.
func TestTimelinePauseHasNoModel(t *testing.T) {
	tl := NewTimeline(testSession(), keepalive.Effective{})
	tl.Add("srv", []wire.Event{{Seq: 1, AtNS: ns(2000), Kind: wire.EventPeer}})
	for _, l := range tl.Add("cli", []wire.Event{{Seq: 1, AtNS: ns(2500), Kind: wire.EventFault, Text: "pause: SIGSTOP pid 42"}}) {
		if l.Kind == KindModel {
			t.Errorf("a model line for a pause: %s", l.Text)
		}
	}
}

func TestStore(t *testing.T) {
	st := Store{Dir: filepath.Join(t.TempDir(), "s")}
	if ids, err := st.IDs(); err != nil || len(ids) != 0 {
		t.Fatalf("empty store: %v %v", ids, err)
	}
	rec := &Record{Session: *testSession(), Cluster: Cluster{Join: []string{"198.18.0.2:7946"}, KeyFile: "/k"}}
	if err := st.Save(rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(st.Dir, "abc.lab.json"), []byte("{}"), 0o600); err != nil { // its lab's file
		t.Fatal(err)
	}
	if ids, err := st.IDs(); err != nil || !slices.Equal(ids, []string{"abc"}) {
		t.Errorf("IDs = %v %v, want [abc] (the lab's file is not a session)", ids, err)
	}
	if fi, err := os.Stat(filepath.Join(st.Dir, "abc.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record file: %v %v, want mode 0600", fi, err)
	}
	got, err := st.Load("abc")
	if err != nil || got.Server.Name != "srv" || got.Cluster.KeyFile != "/k" || !got.StartedAt.Equal(t0) {
		t.Fatalf("load: %+v %v", got, err)
	}
	for _, bad := range []struct{ id, want string }{{"nope", "sessions there: abc"}, {"../x", "expected the id"}} {
		if _, err := st.Load(bad.id); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Load(%q) = %v, want %q", bad.id, err, bad.want)
		}
	}
	if err := st.Remove("abc"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.IDs(); len(ids) != 0 {
		t.Errorf("after remove: %v", ids)
	}
}
