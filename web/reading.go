package web

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// reading is a value read from the database at most once per ttl however
// many requests want it: concurrent requests share one load (single
// flight), and a value, or an error, is reused until it is ttl old. The
// /ops panels and /health/detailed are readings: ten admins watching, or a
// flood of probes, cost one query a second.
type reading[T any] struct {
	load func(ctx context.Context) (T, error)
	// ttl is how long a value is reused; budget bounds one load.
	ttl, budget time.Duration
	// epoch, when set, changes when every value must be read afresh (the
	// primary moved): a value read under another epoch is not reused.
	epoch func() uint64

	group singleflight.Group
	mu    sync.Mutex
	val   T
	err   error
	at    time.Time
	gen   uint64
	loads atomic.Int64 // loads run, for the dashboard's cost test
}

func newReading[T any](ttl, budget time.Duration, load func(context.Context) (T, error)) *reading[T] {
	return &reading[T]{load: load, ttl: ttl, budget: budget}
}

func (c *reading[T]) currentEpoch() uint64 {
	if c.epoch == nil {
		return 0
	}
	return c.epoch()
}

// get returns the reused value, or loads a new one.
func (c *reading[T]) get(ctx context.Context) (T, time.Time, error) {
	gen := c.currentEpoch()
	c.mu.Lock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl && c.gen == gen {
		v, at, err := c.val, c.at, c.err
		c.mu.Unlock()
		return v, at, err
	}
	c.mu.Unlock()
	type result struct {
		v   T
		at  time.Time
		err error
	}
	r, _, _ := c.group.Do("load", func() (any, error) {
		// Detached from the first caller: one admin closing the tab, or
		// one impatient prober, must not fail the load the others wait for.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.budget)
		defer cancel()
		c.loads.Add(1)
		gen := c.currentEpoch()
		v, err := c.load(ctx)
		at := time.Now()
		c.mu.Lock()
		c.val, c.at, c.err, c.gen = v, at, err, gen
		c.mu.Unlock()
		return result{v, at, err}, nil
	})
	res := r.(result)
	return res.v, res.at, res.err
}

// invalidate makes the next get load afresh (after a cancel or terminate,
// so the page the admin is sent back to shows the effect).
func (c *reading[T]) invalidate() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}
