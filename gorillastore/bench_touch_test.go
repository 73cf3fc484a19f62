package gorillastore

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkTouchPaired: a request that loads its session and saves it,
// with a sliding MaxAge of 30 minutes, on 1,000 sessions of three values
// (~1 KiB); one request in ten changes a value. PGStore with and without a
// one-minute TouchWindow, each on its own table and pool, in alternating
// blocks of 64 requests, one goroutine. It reports each one's time per
// request, touch/off, and each one's write statements per request.
func BenchmarkTouchPaired(b *testing.B) {
	const n = 1000
	type target struct {
		s       *PGStore
		counter *statementCounter
		cookies []*http.Cookie
	}
	var targets [2]target
	pad := strings.Repeat("p", 960)
	for k, window := range []time.Duration{0, time.Minute} {
		testPool(b)
		cfg, err := pgxpool.ParseConfig(testDSN)
		if err != nil {
			b.Fatal(err)
		}
		c := &statementCounter{}
		cfg.ConnConfig.Tracer = c
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		s, err := NewPGStoreWithConfig(pool, PGConfig{Table: tableName(), Config: Config{KeyPairs: [][]byte{key1}, TouchWindow: window}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.b.dropSchema(context.Background()); s.Close() })
		s.MaxAge(1800)
		t := target{s: s, counter: c}
		for i := range n {
			r := request()
			sess, err := s.New(r, "sid")
			if err != nil {
				b.Fatal(err)
			}
			sess.Values["user_id"] = fmt.Sprint("user-", i)
			sess.Values["csrf"] = "7oMz0bZnQpR1"
			sess.Values["prefs"] = pad
			w := &discard{h: http.Header{}}
			if err := s.Save(r, w, sess); err != nil {
				b.Fatal(err)
			}
			ck, err := http.ParseSetCookie(w.h.Get("Set-Cookie"))
			if err != nil {
				b.Fatal(err)
			}
			t.cookies = append(t.cookies, ck)
		}
		targets[k] = t
	}
	op := func(t target, i int) {
		r := request(t.cookies[(i*7919)%n])
		sess, err := t.s.New(r, "sid")
		if err != nil || sess.IsNew {
			b.Fatalf("load: %v, IsNew %v", err, sess.IsNew)
		}
		if i%10 == 0 {
			sess.Values["csrf"] = fmt.Sprint(i)
		}
		if err := t.s.Save(r, &discard{h: http.Header{}}, sess); err != nil {
			b.Fatal(err)
		}
	}
	const block = 64
	var d [2]time.Duration
	var w0 [2]int64
	for k := range targets {
		w0[k] = targets[k].counter.writes.Load()
	}
	done, i := 0, 0
	for b.Loop() {
		if i%block == 0 {
			for j := range targets {
				k := (j + i/block) % 2
				start := time.Now()
				for c := range block {
					op(targets[k], i+c)
				}
				d[k] += time.Since(start)
			}
			done += block
		}
		i++
	}
	off, on := float64(d[0].Nanoseconds())/float64(done), float64(d[1].Nanoseconds())/float64(done)
	b.ReportMetric(off, "off-ns/op")
	b.ReportMetric(on, "touch-ns/op")
	b.ReportMetric(on/off, "touch/off")
	b.ReportMetric(float64(targets[0].counter.writes.Load()-w0[0])/float64(done), "off-writes/op")
	b.ReportMetric(float64(targets[1].counter.writes.Load()-w0[1])/float64(done), "touch-writes/op")
}
