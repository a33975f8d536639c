package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	tests := []struct {
		format string
		json   bool
	}{
		{FormatJSON, true},
		{FormatText, false},
		{FormatAuto, true}, // a buffer is not a terminal
	}
	for _, tt := range tests {
		var b bytes.Buffer
		l, err := New(&b, tt.format, false)
		if err != nil {
			t.Fatal(err)
		}
		l.Info("hello", "k", 1)
		l.Debug("hidden")
		var m map[string]any
		isJSON := json.Unmarshal(b.Bytes(), &m) == nil
		if isJSON != tt.json || strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), "hello") {
			t.Errorf("%s: got %q", tt.format, b.String())
		}
	}
	if _, err := New(&bytes.Buffer{}, "xml", false); err == nil || !strings.Contains(err.Error(), "auto, text or json") {
		t.Errorf("xml: %v", err)
	}
}
