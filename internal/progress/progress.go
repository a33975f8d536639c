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

	"github.com/kalab-dev/kalab/internal/experiment"
	"github.com/kalab-dev/kalab/internal/keepalive"
	"github.com/kalab-dev/kalab/internal/results"
)

// Reporter implements experiment.Progress.
type Reporter struct {
	mu    sync.Mutex
	total int
	done  int
	plain io.Writer
	out   io.Writer // the terminal under the bars
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
	// phase is what the run is doing (experiment.Progress.Phase), read by
	// the render goroutine too.
	phase atomic.Pointer[experiment.Phase]
	// expected is the plan's duration for the run.
	expected time.Duration
}

// New returns a reporter writing to w: bars if w is a terminal with a
// width (a pseudo-terminal nobody sized has none, and bars would not
// render there), plain lines otherwise.
func New(w *os.File) *Reporter {
	if cols, _, err := term.GetSize(int(w.Fd())); err == nil && cols > 0 {
		return &Reporter{bars: map[string]*live{}, out: w,
			p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(24), mpb.WithRefreshRate(200*time.Millisecond))}
	}
	return NewPlain(w)
}

// NewPlain returns a reporter that writes plain lines to w.
func NewPlain(w io.Writer) *Reporter { return &Reporter{bars: map[string]*live{}, plain: w} }

// Planned records how many runs there are and says so with the estimate.
func (r *Reporter) Planned(n int, about time.Duration) {
	r.mu.Lock()
	r.total = n
	r.mu.Unlock()
	line := fmt.Sprintf("%d runs planned, about %s", n, about.Round(time.Second))
	if r.plain != nil {
		fmt.Fprintf(r.plain, "%s %s\n", time.Now().Format("15:04:05"), line)
		return
	}
	fmt.Fprintln(r.out, line)
}

// Start shows a run beginning.
func (r *Reporter) Start(name string, expected time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := &live{start: time.Now(), stop: make(chan struct{}), expected: expected}
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
			return l.status(time.Now())
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

// Phase shows what a running run is doing (bars only: plain output keeps
// to one line per start and end).
func (r *Reporter) Phase(name string, p experiment.Phase) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.bars[name]; l != nil {
		l.phase.Store(&p)
	}
}

// status is a running bar's text at now: the phase with its countdown, or
// the elapsed time against the plan before the first phase.
func (l *live) status(now time.Time) string {
	p := l.phase.Load()
	if p == nil {
		return fmt.Sprintf("connecting · %s of ~%s", secs(now.Sub(l.start)), secs(l.expected))
	}
	in := now.Sub(p.Since)
	switch {
	case p.Name == "settling":
		return fmt.Sprintf("settling · client silenced in %s", secs(p.Until.Sub(now)))
	case p.Until.IsZero():
		return fmt.Sprintf("silenced %s · no detection expected, watching", secs(in))
	case now.Before(p.Until):
		return fmt.Sprintf("silenced %s · model detects %s after the fault: due within %s", secs(in), window(p.Window), secs(p.Until.Sub(now)))
	}
	return fmt.Sprintf("silenced %s · past the model's %s, still waiting", secs(in), window(p.Window))
}

// secs writes a duration in seconds to a tenth: "3.1 s"; negative as 0.
func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", max(d, 0).Seconds()) }

// window writes a model window as the final lines do: "3.07 s – 4.10 s".
func window(w keepalive.Window) string {
	if w.Min == w.Max {
		return results.Seconds(w.Max)
	}
	return results.Seconds(w.Min) + " – " + results.Seconds(w.Max)
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
