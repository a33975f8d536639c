// Package progress shows a long experiment's state: on a terminal one live
// bar per running run (elapsed against the plan's expected duration, via
// vbauerster/mpb) that freezes with the run's answer when it ends;
// otherwise one plain line when a run starts and one when it ends.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/kalab-dev/kalab/internal/results"
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

// live is one running run's bar.
type live struct {
	bar   *mpb.Bar
	start time.Time
	stop  chan struct{}
	// final is the frozen line once the run ended; read by the render
	// goroutine, so it is atomic (never under Reporter.mu, which Done holds
	// while it calls into mpb).
	final atomic.Pointer[string]
}

// New returns a reporter writing to w (bars only if w is a terminal).
func New(w *os.File) *Reporter {
	if term.IsTerminal(int(w.Fd())) {
		return &Reporter{bars: map[string]*live{},
			p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(24), mpb.WithRefreshRate(200*time.Millisecond))}
	}
	return NewPlain(w)
}

// NewPlain returns a reporter that writes plain lines to w.
func NewPlain(w io.Writer) *Reporter { return &Reporter{bars: map[string]*live{}, plain: w} }

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
func (r *Reporter) Start(name string, expected time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := &live{start: time.Now(), stop: make(chan struct{})}
	r.bars[name] = l
	if r.plain != nil {
		fmt.Fprintf(r.plain, "%s start %s (takes about %s)\n", time.Now().Format("15:04:05"), name, expected.Round(time.Second))
		return
	}
	total := max(expected.Milliseconds(), 1)
	l.bar = r.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			if f := l.final.Load(); f != nil {
				return *f
			}
			return fmt.Sprintf("%s / ~%s", time.Since(l.start).Round(time.Second), expected.Round(time.Second))
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

// Done freezes a run's line with its answer.
func (r *Reporter) Done(name string, res results.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	l := r.bars[name]
	if l == nil {
		return
	}
	delete(r.bars, name)
	close(l.stop)
	if r.plain != nil {
		fmt.Fprintf(r.plain, "%s done  %s: %s [%d/%d]\n", time.Now().Format("15:04:05"), name, res.Answer(), r.done, r.total)
		return
	}
	final := fmt.Sprintf("%s [%d/%d]", res.Answer(), r.done, r.total)
	l.final.Store(&final)
	l.bar.SetTotal(-1, true)
}

// Wait flushes the bars; call after the last run.
func (r *Reporter) Wait() {
	if r.p != nil {
		r.p.Wait()
	}
}
