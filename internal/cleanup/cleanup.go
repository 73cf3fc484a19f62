// Package cleanup is the background expiry loop every store in this
// repository shares: a jittered interval, runs that never overlap, bounded
// batches, slog logging, an optional hook, and a Stop that waits.
package cleanup

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// DefaultBatchSize is the number of rows (or entries) one cleanup batch
// deletes when a store's configuration leaves it at zero.
const DefaultBatchSize = 1000

// Hook is called after every cleanup run with the number of sessions and
// tombstones deleted, the time the run took and its error, if any.
type Hook func(deleted int64, took time.Duration, err error)

// Config configures a Loop.
type Config struct {
	// Name prefixes log messages ("pgstore").
	Name string
	// Interval between runs; each wait is jittered by ±20%.
	Interval time.Duration
	// Logger receives one record per run that deleted rows or failed.
	// nil means slog.Default().
	Logger *slog.Logger
	// OnCleanup, if set, is called after every run.
	OnCleanup Hook
}

// Loop runs a cleanup function on a jittered interval in one goroutine, so
// runs never overlap. The zero Loop and a nil *Loop are valid and stopped.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts a loop that calls run every cfg.Interval (±20%). It returns
// nil, which is a valid, stopped *Loop, when cfg.Interval <= 0. The context
// passed to run is cancelled when Stop is called.
func Start(cfg Config, run func(ctx context.Context) (int64, error)) *Loop {
	if cfg.Interval <= 0 {
		return nil
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		timer := time.NewTimer(Jitter(cfg.Interval))
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			start := time.Now()
			n, err := run(ctx)
			took := time.Since(start)
			switch {
			case err != nil && ctx.Err() != nil:
				// Stopped in the middle of a run: not a failure.
			case err != nil:
				cfg.Logger.Error(cfg.Name+": cleanup failed", "deleted", n, "took", took, "err", err)
			case n > 0:
				cfg.Logger.Info(cfg.Name+": cleanup", "deleted", n, "took", took)
			}
			if cfg.OnCleanup != nil {
				cfg.OnCleanup(n, took, err)
			}
			timer.Reset(Jitter(cfg.Interval))
		}
	}()
	return l
}

// Stop stops the loop and waits until its goroutine has exited, cancelling a
// run in progress. It is safe to call on a nil Loop, more than once, and from
// several goroutines.
func (l *Loop) Stop() {
	if l == nil || l.done == nil {
		return
	}
	l.cancel() // idempotent and safe for concurrent use
	<-l.done
}

// Jitter returns d randomly spread by ±20%, so that replicas started together
// do not clean up in lockstep.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := int64(d) * 2 / 5 // 40% wide window centred on d
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread+1))
}

// Batches calls batch until it deletes fewer than size rows, and returns the
// total deleted. Each call is expected to run in its own short transaction,
// so that no lock is ever held on the whole table. It stops early, returning
// what was deleted so far, when ctx is done or batch fails.
func Batches(ctx context.Context, size int, batch func(ctx context.Context, size int) (int64, error)) (int64, error) {
	if size <= 0 {
		size = DefaultBatchSize
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := batch(ctx, size)
		total += n
		if err != nil {
			return total, err
		}
		if n < int64(size) {
			return total, nil
		}
	}
}
