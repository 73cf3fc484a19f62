package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
)

// logoutSocket is Delete bounded by a deadline on the connection's socket
// instead of a context's: the statement runs on a context that is never
// done, which pgx does not watch. It is BenchmarkLogoutDeadline's
// comparison, and runs Delete's statement on pool.
func logoutSocket(ctx context.Context, s *PostgresStore, pool *pgxpool.Pool, tok string) error {
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(DefaultTimeout)
	if _, err := s.core.UseTombstones(ctx); err != nil {
		return err
	}
	actx, cancel := context.WithDeadline(ctx, deadline)
	conn, err := pool.Acquire(actx)
	cancel()
	if err != nil {
		return err
	}
	sock := conn.Conn().PgConn().Conn()
	if err := sock.SetDeadline(deadline); err != nil {
		conn.Release()
		return err
	}
	defer func() {
		_ = sock.SetDeadline(time.Time{}) // fails only on a closed connection
		conn.Release()
	}()
	_, err = conn.Exec(ctx, s.core.Q.Del, tok, time.Now().Add(sessionstore.DefaultTombstoneLifetime))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// BenchmarkLogoutDeadline compares the two ways of bounding Delete by the
// store's timeout whatever the caller's context: context,
// context.WithTimeout(context.WithoutCancel(ctx), timeout) (DeleteCtx), and
// socket, a deadline on the connection's socket (logoutSocket). Both
// run the same statements on the same pool, in turn within each iteration
// (rotating who goes first), each on a session committed beforehand. It
// reports each one's mean and median time and the ratios context/socket.
// The pool's sessions run with synchronous_commit off, so that the
// statement's WAL flush does not hide what the deadline costs. Run it with
// -count 6 or more.
func BenchmarkLogoutDeadline(b *testing.B) {
	sharedPool(b) // skips, or fails in CI, if the database is down
	cfg, err := pgxpool.ParseConfig(testDSN)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	s, err := NewWithConfig(pool, Config{Table: uniqueName("pgstore_bench_"), CreateTable: true, CleanupInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dropTables(b, pool, s) })
	ctx := context.Background()
	variants := []struct {
		name string
		del  func(tok string) error
	}{
		{"socket", func(tok string) error { return logoutSocket(ctx, s, pool, tok) }},
		{"context", func(tok string) error { return s.DeleteCtx(ctx, tok) }},
	}
	var toks []string
	refill := func() {
		b.StopTimer()
		defer b.StartTimer()
		toks = toks[:0]
		exp := time.Now().Add(time.Hour)
		for i := range 2000 {
			tok := fmt.Sprintf("logout-%d-%d", time.Now().UnixNano(), i)
			if err := s.Commit(tok, []byte("data"), exp); err != nil {
				b.Fatal(err)
			}
			toks = append(toks, tok)
		}
	}
	d := make([]time.Duration, len(variants))
	samples := make([][]time.Duration, len(variants))
	i := 0
	for b.Loop() {
		if len(toks) < len(variants) {
			refill()
		}
		for j := range variants {
			k := (i + j) % len(variants)
			tok := toks[len(toks)-1]
			toks = toks[:len(toks)-1]
			start := time.Now()
			if err := variants[k].del(tok); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			d[k] += took
			samples[k] = append(samples[k], took)
		}
		i++
	}
	p50 := make([]float64, len(variants))
	for k, v := range variants {
		b.ReportMetric(float64(d[k].Nanoseconds())/float64(i)/1e3, v.name+"-µs/op")
		slices.Sort(samples[k])
		p50[k] = float64(samples[k][len(samples[k])/2])
	}
	b.ReportMetric(float64(d[1])/float64(d[0]), "context/socket")
	b.ReportMetric(p50[1]/p50[0], "context/socket-p50")
}
