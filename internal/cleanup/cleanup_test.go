package cleanup

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestJitterStaysWithinTwentyPercent(t *testing.T) {
	const d = 5 * time.Minute
	lo, hi := d, d
	for range 10000 {
		j := Jitter(d)
		lo, hi = min(lo, j), max(hi, j)
	}
	if lo < d*8/10 || hi > d*12/10 {
		t.Fatalf("Jitter(%v) ranged over [%v, %v], want within ±20%%", d, lo, hi)
	}
	if hi-lo < d/5 {
		t.Fatalf("Jitter(%v) ranged over [%v, %v]: hardly jittered", d, lo, hi)
	}
}

func TestLoopRunsOnIntervalAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int64
		var hooked []int64
		var mu sync.Mutex
		l := Start(Config{Name: "test", Interval: time.Minute, OnCleanup: func(n int64, _ time.Duration, err error) {
			mu.Lock()
			hooked = append(hooked, n)
			mu.Unlock()
		}}, func(ctx context.Context) (int64, error) {
			return runs.Add(1), nil
		})
		time.Sleep(10*time.Minute + 30*time.Second)
		synctest.Wait()
		// Waits of 48s..72s: between 8 and 13 runs in 10.5 minutes.
		if n := runs.Load(); n < 8 || n > 13 {
			t.Errorf("%d runs in 10.5 minutes at a 1-minute interval", n)
		}
		l.Stop()
		l.Stop()
		before := runs.Load()
		time.Sleep(time.Hour)
		if runs.Load() != before {
			t.Error("the loop ran after Stop")
		}
		mu.Lock()
		defer mu.Unlock()
		if int64(len(hooked)) != before || hooked[0] != 1 {
			t.Errorf("hook saw %v, want one call per run with its count", hooked)
		}
	})
}

func TestRunsNeverOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var active, most, runs atomic.Int64
		l := Start(Config{Interval: time.Second}, func(ctx context.Context) (int64, error) {
			n := active.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			time.Sleep(5 * time.Second) // far longer than the interval
			active.Add(-1)
			runs.Add(1)
			return 0, nil
		})
		time.Sleep(time.Minute)
		l.Stop()
		if most.Load() != 1 {
			t.Fatalf("%d runs overlapped", most.Load())
		}
		if runs.Load() < 5 {
			t.Fatalf("only %d runs in a minute", runs.Load())
		}
	})
}

func TestStopCancelsRunInProgressAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{})
		var finished atomic.Bool
		var logs bytes.Buffer
		l := Start(Config{Interval: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
			func(ctx context.Context) (int64, error) {
				close(started)
				<-ctx.Done()
				time.Sleep(time.Second) // cleanup after cancellation
				finished.Store(true)
				return 3, ctx.Err()
			})
		<-started
		l.Stop()
		if !finished.Load() {
			t.Fatal("Stop returned before the run in progress finished")
		}
		if logs.Len() != 0 {
			t.Fatalf("a run cancelled by Stop was logged as a failure: %s", logs.String())
		}
	})
}

func TestFailuresAreLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		var gotErr error
		l := Start(Config{Name: "xstore", Interval: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			OnCleanup: func(_ int64, _ time.Duration, err error) { gotErr = err }},
			func(ctx context.Context) (int64, error) { return 0, errors.New("disk on fire") })
		time.Sleep(1500 * time.Millisecond)
		l.Stop()
		if !bytes.Contains(logs.Bytes(), []byte("xstore: cleanup failed")) || !bytes.Contains(logs.Bytes(), []byte("disk on fire")) {
			t.Fatalf("log = %q", logs.String())
		}
		if gotErr == nil {
			t.Fatal("the hook did not see the error")
		}
	})
}

func TestNilAndZeroLoopsAreStopped(t *testing.T) {
	var l *Loop
	l.Stop()
	if Start(Config{}, nil) != nil {
		t.Fatal("Start with no interval started a loop")
	}
	(&Loop{}).Stop()
}

func TestBatches(t *testing.T) {
	left := int64(2500)
	var sizes []int
	n, err := Batches(context.Background(), 1000, func(_ context.Context, size int) (int64, error) {
		sizes = append(sizes, size)
		k := min(left, int64(size))
		left -= k
		return k, nil
	})
	if err != nil || n != 2500 || len(sizes) != 3 {
		t.Fatalf("Batches = %d, %v after %d batches; want 2500, nil after 3", n, err, len(sizes))
	}
	boom := errors.New("boom")
	n, err = Batches(context.Background(), 0, func(context.Context, int) (int64, error) { return 5, boom })
	if !errors.Is(err, boom) || n != 5 {
		t.Fatalf("Batches on error = %d, %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err = Batches(ctx, 10, func(context.Context, int) (int64, error) { cancel(); return 10, nil })
	if !errors.Is(err, context.Canceled) || n != 10 {
		t.Fatalf("Batches after cancel = %d, %v", n, err)
	}
}
