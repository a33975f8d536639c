package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// runModel runs `coordinator model args…` through the real command tree.
func runModel(t *testing.T, args string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(append([]string{"model"}, strings.Fields(args)...))
	err := cmd.Execute()
	return out.String(), err
}

// TestModelCommand: the model's answers as the command prints them; each
// want is a whole output line, or with a leading ~ a part of the output.
func TestModelCommand(t *testing.T) {
	for args, wants := range map[string][]string{
		"--os linux --idle 1s --interval 1s --count 3 --hz 250": {
			"keepalive model for 1s/1s/3 (idle 1s, interval 1s, count 3)", "Linux at HZ=250, from --hz",
			"linux at HZ=250: 4.096 s after the last ACK, 3.072 s – 4.096 s after the fault", "  applied   1s/1s/3, as requested"},
		"--os linux,windows,macos --idle 1s --interval 3s --count 10 --hz 250": {
			"linux at HZ=250: 33.792 s after the last ACK, 30.72 s – 33.792 s after the fault",
			"windows: 31 s – 31.5 s after the last ACK, 30 s – 31.5 s after the fault",
			"  applied   2h/3s/10, not the requested 1s/3s/10", "~re-arms at the interval", "~macOS does not inherit idle from the listener"},
		"--os windows --windows-build 14393 --idle 1s --interval 1s --count 3": {
			"windows (build 14393): 11 s – 11.5 s after the last ACK, 10 s – 11.5 s after the fault",
			"  applied   1s/1s/10, not the requested 1s/1s/3", "~count 3 is ignored"},
		"--detect-within 10s --os linux,windows,macos --mode per-connection --hz 250": {
			"keepalive settings that detect a silent peer within 10 s after the fault on linux, windows, macos",
			"#1 8s/1s/1 (idle 8s, interval 1s, count 1): 450 probes per idle hour; worst case 9.5 s after the fault, 0.5 s to spare, on windows, macos",
			"   linux at HZ=250: 9.216 s after the last ACK, 1.024 s – 9.216 s after the fault; 439 probes/h",
			"constrained by windows, macos: the worst case closest to 10 s (9.5 s for #1)"},
		"--detect-within 10s --hz 250": {
			"nothing fits: no settings detect a silent peer within 10 s after the fault on linux, windows, macos",
			"~the tightest is 1s/1s/1", "~on macos", "~--mode per-connection"},
		"--os linux,windows --idle 1s --interval 1s --count 3 --hz 250 --results ../testdata/linux-lab-quick.jsonl": {
			"measured: 6 runs from ../testdata/linux-lab-quick.jsonl",
			"  measured  after the fault median 3.633 s (n=2, 3.633 s – 3.634 s); after the last ACK median 4.096 s (n=2, all) (servers at HZ=250)",
			"  measured  no runs"},
		"--scenario unacked --os linux,windows,macos --mode per-connection --user-timeout 5s --hz 250 --os-defaults": {
			"linux at HZ=250: 5.42 s – 5.672 s after the fault", "windows: 5 s – 9.8 s after the fault", "macos: 7.33 s – 8 s after the fault", "~TCP_USER_TIMEOUT wins"},
		"--scenario unacked --os linux --rtt 0s --hz 0 --os-defaults": {"linux: 925 s – 1175.418 s (19m35.418s) after the fault", "~tcp_retries2 wins"},
		"--scenario user-timeout --user-timeout 3s --os linux --idle 1s --interval 1s --count 10 --hz 250": {
			"linux at HZ=250: 3.072 s after the last ACK, 2.048 s – 3.072 s after the fault", "~TCP_USER_TIMEOUT 3s wins"},
		"--scenario unacked --os linux --hz 250 --json": {`~"kind": "scenario"`, `~"scenario": "unacked"`, `~"values_from"`},
	} {
		out, err := runModel(t, args)
		if err != nil {
			t.Errorf("model %s: %v", args, err)
			continue
		}
		for _, want := range wants {
			part, ok := strings.CutPrefix(want, "~")
			if (ok && !strings.Contains(out, part)) || (!ok && !slices.Contains(strings.Split(out, "\n"), want)) {
				t.Errorf("model %s: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// TestModelJSON: --json prints one advise.Model object.
func TestModelJSON(t *testing.T) {
	out, err := runModel(t, "--os linux --idle 1s --interval 1s --count 3 --hz 250 --json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kind string `json:"kind"`
		OSes []struct {
			Prediction struct {
				FromT0 struct{ Min, Max int64 } `json:"from_t0"`
			} `json:"prediction"`
		} `json:"oses"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if doc.Kind != "model" || len(doc.OSes) != 1 || doc.OSes[0].Prediction.FromT0.Max != 4_096_000_000 {
		t.Errorf("got %+v", doc)
	}
}

// TestModelErrors: errors name the flag and the fix; the help has examples.
func TestModelErrors(t *testing.T) {
	for args, want := range map[string]string{
		"--os plan9 --idle 1s --interval 1s --count 3": `--os "plan9"`,
		"--idle 1s --interval 1s":                      "--count is required",
		"--idle 1s --interval 1s --count 300":          "--count 300 is not valid on linux: allowed 1..127",
		"--idle 1s --interval 1s --count 3 stray":      `unexpected argument "stray"`,
		"--detect-within 0s":                           "--detect-within 0s",
		"--scenario busy":                              `--scenario "busy"`,
		"--scenario unacked --rtt -1ms":                "--rtt -1ms",
	} {
		if _, err := runModel(t, args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("model %s: error %v, want %q", args, err, want)
		}
	}
	out, err := runModel(t, "--help")
	if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--detect-within 10s") {
		t.Errorf("help (%v) has no Examples section:\n%s", err, out)
	}
}
