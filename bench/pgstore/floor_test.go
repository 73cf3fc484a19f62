package pgstorebench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkDeleteFloor measures what recording a tombstone costs by itself.
// It runs, in turn within each iteration like BenchmarkPaired, raw pgx's
// plain DELETE (the baseline of BenchmarkPaired), raw pgx deleting the row
// and inserting its tombstone (expiry: the later of the row's and an hour
// from now) in one statement (the least any Delete that keeps a tombstone
// has to do), and pgstore's Delete. tomb/raw is the price of the tombstone;
// pgstore/tomb is what pgstore adds on top of it; the -p50 ratios are those
// of the median latencies.
func BenchmarkDeleteFloor(b *testing.B) {
	setup(b)
	dels := []struct {
		name string
		del  func(ctx context.Context, tok string) error
	}{
		{"raw", env.impls[0].del},
		{"tomb", func(ctx context.Context, tok string) error {
			_, err := env.pool.Exec(ctx, `WITH d AS (DELETE FROM sessions WHERE token = $1 RETURNING expiry)
INSERT INTO sessions_tombstones (token, expiry) SELECT $1, GREATEST(expiry, $2) FROM d`, tok, time.Now().Add(time.Hour))
			return err
		}},
		{"pgstore", env.impls[1].del},
	}
	ctx := context.Background()
	d := make([]time.Duration, len(dels))
	samples := make([][]time.Duration, len(dels))
	env.del.ensure(b, 3000)
	i, left := 0, 3000
	for b.Loop() {
		if left < len(dels) {
			b.StopTimer()
			env.del.ensure(b, 20_000)
			left = 20_000
			b.StartTimer()
		}
		left -= len(dels)
		i++
		for j := range dels {
			k := (i + j) % len(dels)
			start := time.Now()
			if err := dels[k].del(ctx, env.del.take()); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			d[k] += took
			samples[k] = append(samples[k], took)
		}
	}
	per := func(k int) float64 { return float64(d[k].Nanoseconds()) / float64(i) }
	for k, x := range dels {
		b.ReportMetric(per(k)/1e3, x.name+"-µs/op")
	}
	b.ReportMetric(per(1)/per(0), "tomb/raw")
	b.ReportMetric(per(2)/per(0), "pgstore/raw")
	b.ReportMetric(per(2)/per(1), "pgstore/tomb")
	p50 := medians(samples)
	b.ReportMetric(p50[1]/p50[0], "tomb/raw-p50")
	b.ReportMetric(p50[2]/p50[0], "pgstore/raw-p50")
	b.ReportMetric(p50[2]/p50[1], "pgstore/tomb-p50")
}

// medians returns the median of each list of latencies, sorting them.
// Medians resist the bursts of a shared machine better than means do.
func medians(samples [][]time.Duration) []float64 {
	p50 := make([]float64, len(samples))
	for k, s := range samples {
		slices.Sort(s)
		p50[k] = float64(s[len(s)/2])
	}
	return p50
}

// tombstones gives the tombstone table the 20,000 rows of a busy hour of
// logouts, for BenchmarkFindFloor.
var tombstones sync.Once

// BenchmarkFindFloor measures what hiding a row whose token has a tombstone
// costs Find. It runs, in turn within each iteration like BenchmarkPaired,
// raw pgx's plain SELECT (the baseline of BenchmarkPaired), raw pgx running
// the same SELECT with pgstore's NOT EXISTS on the tombstone table (20,000
// tombstones), and pgstore's Find, for a hit and a miss. hide/raw is the
// price of the rule; pgstore/hide is what pgstore adds on top of it; the
// -p50 ratios are those of the median latencies.
func BenchmarkFindFloor(b *testing.B) {
	setup(b)
	tombstones.Do(func() {
		if _, err := env.pool.Exec(context.Background(), `INSERT INTO sessions_tombstones (token, expiry)
SELECT 'gone-' || g, now() + interval '1 hour' FROM generate_series(1, 20000) g ON CONFLICT DO NOTHING;
ANALYZE sessions_tombstones`); err != nil {
			b.Fatal(err)
		}
	})
	query := func(q string) func(ctx context.Context, tok string) (bool, error) {
		return func(ctx context.Context, tok string) (bool, error) {
			var data []byte
			err := env.pool.QueryRow(ctx, q, tok, time.Now()).Scan(&data)
			if errors.Is(err, pgx.ErrNoRows) {
				return false, nil
			}
			return err == nil, err
		}
	}
	finds := []struct {
		name string
		find func(ctx context.Context, tok string) (bool, error)
	}{
		{"raw", query(`SELECT data FROM sessions WHERE token = $1 AND expiry > $2`)},
		{"hide", query(`SELECT data FROM sessions s WHERE token = $1 AND expiry > $2
AND NOT EXISTS (SELECT 1 FROM sessions_tombstones tb WHERE tb.token = s.token)`)},
		{"pgstore", func(ctx context.Context, tok string) (bool, error) {
			_, found, err := env.impls[1].find(ctx, tok)
			return found, err
		}},
	}
	for _, hit := range []bool{true, false} {
		b.Run(fmt.Sprintf("hit=%v", hit), func(b *testing.B) {
			ctx := context.Background()
			d := make([]time.Duration, len(finds))
			samples := make([][]time.Duration, len(finds))
			i := 0
			for b.Loop() {
				i++
				tok := "missing-7e3ac2f1d5b94b1f8a6e0c2d4f6a8b0c1d2"
				if hit {
					tok = env.tokens[(i*7919)%sessions]
				}
				for j := range finds {
					k := (i + j) % len(finds)
					start := time.Now()
					found, err := finds[k].find(ctx, tok)
					took := time.Since(start)
					d[k] += took
					samples[k] = append(samples[k], took)
					if err != nil || found != hit {
						b.Fatalf("%s: found = %v, %v; want %v", finds[k].name, found, err, hit)
					}
				}
			}
			per := func(k int) float64 { return float64(d[k].Nanoseconds()) / float64(i) }
			for k, x := range finds {
				b.ReportMetric(per(k)/1e3, x.name+"-µs/op")
			}
			b.ReportMetric(per(1)/per(0), "hide/raw")
			b.ReportMetric(per(2)/per(0), "pgstore/raw")
			b.ReportMetric(per(2)/per(1), "pgstore/hide")
			p50 := medians(samples)
			b.ReportMetric(p50[1]/p50[0], "hide/raw-p50")
			b.ReportMetric(p50[2]/p50[0], "pgstore/raw-p50")
		})
	}
}
