package db

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolSample is pool.Stat() at one moment. Counters are cumulative since the
// pool started; the ops dashboard turns them into rates between samples.
type PoolSample struct {
	At                   time.Time
	Total                int32
	Acquired             int32
	Idle                 int32
	Constructing         int32
	Max                  int32
	AcquireCount         int64
	AcquireDuration      time.Duration
	EmptyAcquireCount    int64
	EmptyAcquireWait     time.Duration
	CanceledAcquireCount int64
	NewConns             int64
	LifetimeDestroys     int64
	IdleDestroys         int64
}

// SamplePool reads the pool's figures now.
func SamplePool(p *pgxpool.Pool) PoolSample {
	s := p.Stat()
	return PoolSample{
		At:                   time.Now(),
		Total:                s.TotalConns(),
		Acquired:             s.AcquiredConns(),
		Idle:                 s.IdleConns(),
		Constructing:         s.ConstructingConns(),
		Max:                  s.MaxConns(),
		AcquireCount:         s.AcquireCount(),
		AcquireDuration:      s.AcquireDuration(),
		EmptyAcquireCount:    s.EmptyAcquireCount(),
		EmptyAcquireWait:     s.EmptyAcquireWaitTime(),
		CanceledAcquireCount: s.CanceledAcquireCount(),
		NewConns:             s.NewConnsCount(),
		LifetimeDestroys:     s.MaxLifetimeDestroyCount(),
		IdleDestroys:         s.MaxIdleDestroyCount(),
	}
}

// Sampler records a PoolSample every interval into a fixed ring, keeping
// the last window of history in memory (900 samples for 15 minutes at 1s).
type Sampler struct {
	pool  *pgxpool.Pool
	every time.Duration
	mu    sync.RWMutex
	ring  []PoolSample
	next  int
	full  bool
}

// NewSampler returns a sampler of pool keeping window of history.
func NewSampler(pool *pgxpool.Pool, every, window time.Duration) *Sampler {
	n := max(int(window/every), 2)
	return &Sampler{pool: pool, every: every, ring: make([]PoolSample, n)}
}

// Run samples until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	s.Record()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Record()
		}
	}
}

// Record takes one sample now.
func (s *Sampler) Record() {
	sample := SamplePool(s.pool)
	s.mu.Lock()
	s.ring[s.next] = sample
	s.next = (s.next + 1) % len(s.ring)
	if s.next == 0 {
		s.full = true
	}
	s.mu.Unlock()
}

// Samples returns the recorded history, oldest first.
func (s *Sampler) Samples() []PoolSample {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.full {
		return append([]PoolSample(nil), s.ring[:s.next]...)
	}
	out := make([]PoolSample, 0, len(s.ring))
	out = append(out, s.ring[s.next:]...)
	return append(out, s.ring[:s.next]...)
}

// Interval is the time between samples.
func (s *Sampler) Interval() time.Duration { return s.every }
