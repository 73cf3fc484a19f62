package pgstorebench

import (
	"context"
	"testing"
	"time"
)

// BenchmarkDeleteFloor measures what recording a tombstone costs by itself.
// It runs, in turn within each iteration like BenchmarkPaired, raw pgx's
// plain DELETE (the baseline of BenchmarkPaired), raw pgx deleting the row
// and inserting its tombstone in one statement (the least any Delete that
// keeps a tombstone has to do), and pgstore's Delete. tomb/raw is the price
// of the tombstone; pgstore/tomb is what pgstore adds on top of it.
func BenchmarkDeleteFloor(b *testing.B) {
	setup(b)
	dels := []struct {
		name string
		del  func(ctx context.Context, tok string) error
	}{
		{"raw", env.impls[0].del},
		{"tomb", func(ctx context.Context, tok string) error {
			_, err := env.pool.Exec(ctx, `WITH d AS (DELETE FROM sessions WHERE token = $1 RETURNING expiry)
INSERT INTO sessions_tombstones (token, expiry) SELECT $1, expiry FROM d`, tok)
			return err
		}},
		{"pgstore", env.impls[1].del},
	}
	ctx := context.Background()
	d := make([]time.Duration, len(dels))
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
			d[k] += time.Since(start)
		}
	}
	per := func(k int) float64 { return float64(d[k].Nanoseconds()) / float64(i) }
	for k, x := range dels {
		b.ReportMetric(per(k)/1e3, x.name+"-µs/op")
	}
	b.ReportMetric(per(1)/per(0), "tomb/raw")
	b.ReportMetric(per(2)/per(0), "pgstore/raw")
	b.ReportMetric(per(2)/per(1), "pgstore/tomb")
}
