package pgstore

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/internal/faulttest"
)

// TestRestartUnderLoad restarts a private PostgreSQL in the middle of a
// load test. Every operation must succeed or fail, never report a live
// session as missing; no committed session may be lost; and the same store,
// on the same pool, must recover without help.
func TestRestartUnderLoad(t *testing.T) {
	t.Parallel()
	pg := faulttest.StartPostgres(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := newPoolWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := NewWithConfig(pool, Config{
		CreateTable:     true,
		CleanupInterval: 50 * time.Millisecond, // cleanup runs through the restart too
		Timeout:         2 * time.Second,
		Logger:          slog.New(slog.DiscardHandler), // its failures during the restart are expected
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.StopCleanup()
	startedAt := func() (ts time.Time) {
		t.Helper()
		if err := pool.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&ts); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	before := startedAt()
	faulttest.RestartUnderLoad(t, s, 6, func() { pg.Restart(t) })
	if after := startedAt(); !after.After(before) {
		t.Fatalf("the server was not restarted (start time %v, then %v)", before, after)
	}
}
