package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestScaleCleanup measures cleanup of 1M sessions, 500k of them expired,
// while 8 goroutines run Find (90%) and Commit (10%) on live sessions: the
// p99 latency of those requests with and without cleanup, the largest
// number of rows one transaction deleted, and the same for the single
// DELETE that SCS's pgxstore runs. It takes minutes, so it only runs with
// PGSTORE_SCALE=1 (make -C pgstore scale).
func TestScaleCleanup(t *testing.T) {
	if os.Getenv("PGSTORE_SCALE") == "" {
		t.Skip("set PGSTORE_SCALE=1 (make -C pgstore scale) to run the 1M-row cleanup measurement")
	}
	const rows, dataSize = 1_000_000, 256
	for _, variant := range []string{"pgstore", "scs"} {
		t.Run(variant, func(t *testing.T) {
			now := time.Now()
			s := newTestStore(t, Config{CleanupInterval: -1})
			var maxBatch, batches atomic.Int64
			s.core.OnBatch = func(_ string, n int64) {
				batches.Add(1)
				for m := maxBatch.Load(); n > m && !maxBatch.CompareAndSwap(m, n); m = maxBatch.Load() {
				}
			}
			ctx := context.Background()
			start := time.Now()
			// Odd rows expired (spread over the last hour), even rows live.
			_, err := s.rawPool().Exec(ctx, `INSERT INTO `+s.core.Names.Sessions+` (token, data, expiry)
SELECT 'tok-' || g, convert_to(repeat(md5(g::text), $2 / 32), 'UTF8'),
  CASE WHEN g % 2 = 1 THEN $3::timestamptz - (g % 3600) * interval '1 second'
       ELSE $3::timestamptz + interval '1 hour' + (g % 3600) * interval '1 second' END
FROM generate_series(1, $1) g`, rows, dataSize, now)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.rawPool().Exec(ctx, "VACUUM ANALYZE "+s.core.Names.Sessions); err != nil {
				t.Fatal(err)
			}
			t.Logf("filled %d rows of %d bytes in %v", rows, dataSize, time.Since(start).Round(time.Millisecond))

			base := loadWhile(t, s, rows, func() { time.Sleep(5 * time.Second) })
			var deleted int64
			var took time.Duration
			during := loadWhile(t, s, rows, func() {
				start := time.Now()
				if variant == "pgstore" {
					deleted, err = s.DeleteExpired(ctx)
				} else {
					tag, e := s.rawPool().Exec(ctx, "DELETE FROM "+s.core.Names.Sessions+" WHERE expiry < current_timestamp")
					deleted, err = tag.RowsAffected(), e
					maxBatch.Store(deleted)
					batches.Store(1)
				}
				took = time.Since(start)
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: deleted %d rows in %v, %d transactions, at most %d rows per transaction",
				variant, deleted, took.Round(time.Millisecond), batches.Load(), maxBatch.Load())
			t.Logf("%s: without cleanup: %s", variant, base)
			t.Logf("%s: during cleanup:  %s", variant, during)
			t.Logf("%s: p99 ratio during/without: Find %.2f, Commit %.2f", variant,
				float64(during.p99Find)/float64(base.p99Find), float64(during.p99Commit)/float64(base.p99Commit))
			if deleted != rows/2 {
				t.Errorf("deleted %d rows, want %d", deleted, rows/2)
			}
			if variant == "pgstore" && maxBatch.Load() > int64(s.core.Batch()) {
				t.Errorf("a transaction deleted %d rows, more than the batch size %d", maxBatch.Load(), s.core.Batch())
			}
		})
	}
}

// latencies summarises the requests of one load phase.
type latencies struct {
	finds, commits       int
	p50Find, p99Find     time.Duration
	p50Commit, p99Commit time.Duration
}

func (l latencies) String() string {
	return fmt.Sprintf("Find n=%d p50=%v p99=%v; Commit n=%d p50=%v p99=%v",
		l.finds, l.p50Find, l.p99Find, l.commits, l.p50Commit, l.p99Commit)
}

// loadWhile runs 8 goroutines of Find (90%) and Commit (10%) on live
// sessions (even tokens) while phase runs, and returns their latencies.
func loadWhile(t *testing.T, s *PostgresStore, rows int, phase func()) latencies {
	t.Helper()
	var (
		stop           atomic.Bool
		wg             sync.WaitGroup
		mu             sync.Mutex
		finds, commits []time.Duration
	)
	data := make([]byte, 256)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f, c []time.Duration
			for !stop.Load() {
				tok := fmt.Sprint("tok-", 2*(1+rand.IntN(rows/2)))
				start := time.Now()
				if rand.IntN(10) == 0 {
					if err := s.Commit(tok, data, time.Now().Add(2*time.Hour)); err != nil {
						t.Error(err)
						return
					}
					c = append(c, time.Since(start))
					continue
				}
				if _, found, err := s.Find(tok); err != nil || !found {
					t.Errorf("Find(%s) = %v, %v", tok, found, err)
					return
				}
				f = append(f, time.Since(start))
			}
			mu.Lock()
			finds, commits = append(finds, f...), append(commits, c...)
			mu.Unlock()
		}()
	}
	phase()
	stop.Store(true)
	wg.Wait()
	return latencies{
		finds: len(finds), commits: len(commits),
		p50Find: quantile(finds, 0.50), p99Find: quantile(finds, 0.99),
		p50Commit: quantile(commits, 0.50), p99Commit: quantile(commits, 0.99),
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[int(q*float64(len(d)-1))]
}
