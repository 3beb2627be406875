package proxmox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	gp "github.com/luthermonson/go-proxmox"
)

// wait polls a task until it ends, retrying a poll that fails
// transiently, and turns a failed task into an error; it gives up after
// TaskTimeout.
func (d *deployer) wait(ctx context.Context, t *gp.Task) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.TaskTimeout)
	defer cancel()
	for {
		if err := d.retry(ctx, func() error { return t.Ping(ctx) }); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("task %s did not end within %s", t.UPID, d.opts.TaskTimeout)
			}
			return fmt.Errorf("task %s: %w", t.UPID, err)
		}
		if t.IsCompleted || (!t.IsRunning && t.ExitStatus != "") {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("task %s did not end within %s", t.UPID, d.opts.TaskTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if t.IsFailed || (t.ExitStatus != "" && t.ExitStatus != "OK") {
		return fmt.Errorf("task %s failed: %s", t.UPID, t.ExitStatus)
	}
	return nil
}

// Apply carries the plan out: ISOs, then VM creates and updates (at most
// Concurrency at once), then starts. It stops at the first failed phase and
// returns every error of that phase; re-running NewPlan and Apply resumes.
func (p *Plan) Apply(ctx context.Context) error {
	if err := p.Provision(ctx); err != nil {
		return err
	}
	return p.Prune(ctx)
}

// Provision downloads the ISOs, creates or updates the VMs and starts
// them: Apply without the removals.
func (p *Plan) Provision(ctx context.Context) error {
	for _, phase := range [][]Change{p.ISOs, p.VMs, p.Starts} {
		if err := p.run(ctx, phase); err != nil {
			return err
		}
	}
	return nil
}

// Prune removes the VMs outside the model (planned with Options.Prune).
// deploy runs it after the Talos layer has taken their nodes out of the
// cluster.
func (p *Plan) Prune(ctx context.Context) error { return p.run(ctx, p.Removals) }

func (p *Plan) run(ctx context.Context, changes []Change) error {
	sem := make(chan struct{}, p.opts.Concurrency)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range changes {
		wg.Add(1)
		sem <- struct{}{}
		go func(c Change) {
			defer wg.Done()
			defer func() { <-sem }()
			err := p.opts.Log.Record("proxmox", c.Host+"/"+c.Target, c.Action, func() error { return c.run(ctx) })
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("proxmox %s: %s %s: %w", c.Host, c.Action, c.Target, err))
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}
