package gorillastore

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkGetDuringCleanup measures Get while DeleteExpired removes a large
// backlog of expired rows (GORILLASTORE_SCALE_ROWS, e.g. 1000000; skipped
// when unset). It reports the cleanup time and the median and worst Get
// latency while cleanup ran: batched cleanup must not stall requests.
func BenchmarkGetDuringCleanup(b *testing.B) {
	rows, _ := strconv.Atoi(os.Getenv("GORILLASTORE_SCALE_ROWS"))
	if rows <= 0 {
		b.Skip("set GORILLASTORE_SCALE_ROWS (e.g. 1000000) to run")
	}
	e := newBenchEnv(b, "PGStore", 1)
	reqs := e.requests()
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		_, err := e.pg.b.db.Exec(ctx, `INSERT INTO `+e.pg.b.table+` (key, data, created_on, modified_on, expires_on)
SELECT 'expired-' || g, '\x01'::bytea, now() - interval '2 days', now() - interval '2 days', now() - interval '1 day'
FROM generate_series(1, $1) g`, rows)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		done := make(chan time.Duration)
		go func() {
			t0 := time.Now()
			if _, err := e.pg.DeleteExpired(ctx); err != nil {
				b.Error(err)
			}
			done <- time.Since(t0)
		}()
		var lat []time.Duration
		var took time.Duration
	loop:
		for {
			select {
			case took = <-done:
				break loop
			default:
			}
			t0 := time.Now()
			if err := e.get(reqs, 0); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.ReportMetric(took.Seconds(), "cleanup-s")
		b.ReportMetric(float64(median(lat))/1e3, "get-median-µs")
		b.ReportMetric(float64(maxDuration(lat))/1e3, "get-max-µs")
	}
}

func maxDuration(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}
