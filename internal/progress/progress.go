// Package progress shows a long experiment's state: on a terminal one live
// bar per running run (elapsed against the model's expected duration, via
// vbauerster/mpb), otherwise one plain line when a run starts and ends.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Reporter implements experiment.Progress.
type Reporter struct {
	mu    sync.Mutex
	total int
	done  int
	plain io.Writer
	p     *mpb.Progress
	bars  map[string]*live
}

type live struct {
	bar     *mpb.Bar
	start   time.Time
	stop    chan struct{}
	outcome string
}

// New returns a reporter writing to w (bars only if w is a terminal).
func New(w *os.File) *Reporter {
	r := &Reporter{bars: map[string]*live{}}
	if term.IsTerminal(int(w.Fd())) {
		r.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(30), mpb.WithRefreshRate(200*time.Millisecond))
	} else {
		r.plain = w
	}
	return r
}

// Planned records how many runs there are.
func (r *Reporter) Planned(n int) {
	r.mu.Lock()
	r.total = n
	r.mu.Unlock()
	if r.plain != nil {
		fmt.Fprintf(r.plain, "%s %d runs planned\n", time.Now().Format("15:04:05"), n)
	}
}

// Start shows a run beginning.
func (r *Reporter) Start(run string, expected time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := &live{start: time.Now(), stop: make(chan struct{})}
	r.bars[run] = l
	if r.plain != nil {
		fmt.Fprintf(r.plain, "%s start  %s (expected %s)\n", time.Now().Format("15:04:05"), run, expected.Round(100*time.Millisecond))
		return
	}
	total := max(expected.Milliseconds(), 1)
	l.bar = r.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(run, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			el := time.Since(l.start).Round(100 * time.Millisecond)
			if l.outcome != "" {
				return fmt.Sprintf("%s  %s", el, l.outcome)
			}
			return fmt.Sprintf("%s / %s", el, expected.Round(100*time.Millisecond))
		})),
	)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.bar.SetCurrent(min(time.Since(l.start).Milliseconds(), total-1))
			}
		}
	}()
}

// Done shows a run's end and outcome.
func (r *Reporter) Done(run, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	l := r.bars[run]
	if l == nil {
		return
	}
	delete(r.bars, run)
	close(l.stop)
	if r.plain != nil {
		fmt.Fprintf(r.plain, "%s done   %s: %s after %s [%d/%d]\n", time.Now().Format("15:04:05"), run, outcome,
			time.Since(l.start).Round(100*time.Millisecond), r.done, r.total)
		return
	}
	l.outcome = fmt.Sprintf("%s [%d/%d]", outcome, r.done, r.total)
	l.bar.SetTotal(-1, true)
}

// Wait flushes the bars; call after the last run.
func (r *Reporter) Wait() {
	if r.p != nil {
		r.p.Wait()
	}
}
