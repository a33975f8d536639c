package unsupported

import (
	"errors"
	"fmt"
	"testing"
)

func TestOn(t *testing.T) {
	err := fmt.Errorf("keepalive model: %w", On("keepalive", "plan9"))
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("%v does not wrap errors.ErrUnsupported", err)
	}
	if want := "keepalive model: keepalive: not supported on plan9"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}
