package clusterbench

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/kalab-dev/kalab/internal/cluster"
)

// latency sends n status commands round-robin over agents, parallel in
// flight at a time.
func (b *bench) latency(ctx context.Context, agents []string, n, parallel int) Latency {
	l := Latency{Parallel: parallel}
	var (
		mu   sync.Mutex
		took []time.Duration
		wg   sync.WaitGroup
		next = make(chan int)
	)
	start := time.Now()
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, err := b.status(ctx, agents[i%len(agents)])
				mu.Lock()
				if err != nil {
					l.fail(err)
				} else {
					took = append(took, d)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	l.WallMS = ms(time.Since(start))
	l.N, l.Retried = len(took), retried(took...)
	l.Stats = Distribution(took)
	return l
}

// fail counts err, keeping the first few.
func (l *Latency) fail(err error) {
	l.Failed++
	if len(l.Errors) < 5 {
		l.Errors = append(l.Errors, err.Error())
	}
}

// clock estimates every agent's clock offset, one agent after another.
func clock(ctx context.Context, node *cluster.Node, agents []string, samples int) Clock {
	c := Clock{Samples: samples}
	var offs, bounds []time.Duration
	start := time.Now()
	for _, a := range agents {
		o, err := node.ClockOffset(ctx, a, samples)
		if err != nil {
			c.Agents = append(c.Agents, AgentOffset{Agent: a, Err: err.Error()})
			continue
		}
		abs := o.Offset
		if abs < 0 {
			abs = -abs
		}
		if abs <= o.Bound {
			c.WithinBound++
		}
		offs, bounds = append(offs, abs), append(bounds, o.Bound)
		c.Agents = append(c.Agents, AgentOffset{Agent: a, OffsetMS: ms(o.Offset), BoundMS: ms(o.Bound)})
	}
	c.MS = ms(time.Since(start))
	c.AbsOffset, c.Bound = Distribution(offs), Distribution(bounds)
	return c
}

// dispatch starts one chain per ordered pair at once: status to the
// server, then to the client.
func (b *bench) dispatch(ctx context.Context, agents []string) Dispatch {
	var (
		mu       sync.Mutex
		chains   []time.Duration
		commands []time.Duration
		wg       sync.WaitGroup
		d        Dispatch
	)
	var pairs [][2]string
	for _, s := range agents {
		for _, c := range agents {
			if s != c {
				pairs = append(pairs, [2]string{s, c})
			}
		}
	}
	d.Pairs = len(pairs)
	var alone []time.Duration
	for _, p := range pairs[:min(5, len(pairs))] {
		if chain, _, _, err := b.chain(ctx, p); err == nil {
			alone = append(alone, chain)
		}
	}
	d.AloneN, d.AloneMS = len(alone), Distribution(alone).P50MS
	start := time.Now()
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chain, ds, dc, err := b.chain(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				d.Failed++
				if len(d.Errors) < 5 {
					d.Errors = append(d.Errors, err.Error())
				}
				return
			}
			chains, commands = append(chains, chain), append(commands, ds, dc)
		}()
	}
	wg.Wait()
	d.WallMS = ms(time.Since(start))
	var sum, longest time.Duration
	for _, c := range chains {
		sum += c
		longest = max(longest, c)
	}
	d.SumMS, d.LongestMS = ms(sum), ms(longest)
	if longest > 0 {
		d.Ratio = math.Round(d.WallMS/d.LongestMS*1000) / 1000
	}
	if d.AloneMS > 0 {
		d.AloneRatio = math.Round(d.WallMS/d.AloneMS*1000) / 1000
	}
	d.Chain, d.Command, d.Retried = Distribution(chains), Distribution(commands), retried(commands...)
	return d
}

// chain sends status to p's server, then to its client; it returns the
// chain's and each command's duration.
func (b *bench) chain(ctx context.Context, p [2]string) (chain, server, client time.Duration, err error) {
	t := time.Now()
	server, err = b.status(ctx, p[0])
	if err == nil {
		client, err = b.status(ctx, p[1])
	}
	return time.Since(t), server, client, err
}

// Distribution is the nearest-rank distribution of ds in ms (zero when
// empty); bench concurrency shares it.
func Distribution(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	return Stats{P50MS: rank(0.50), P95MS: rank(0.95), P99MS: rank(0.99), MaxMS: ms(s[len(s)-1])}
}
