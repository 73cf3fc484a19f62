package touchbench

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/gormstore"
)

// BenchmarkAsyncCommitSQL: one session committed with changed data, one
// Commit at a time (each waits for its own WAL flush when durable), on
// gormstore and bunstore with durable Commits and with Config.AsyncCommit,
// and on gormstore with Callbacks, whose AsyncCommit runs in a GORM
// transaction instead of one pgx batch. Each pair runs in the same
// invocation: compare the ratios.
func BenchmarkAsyncCommitSQL(b *testing.B) {
	gormStore := func(table string, cfg gormstore.Config) scs.Store {
		db, _ := pgSQLDB(b)
		g, err := gorm.Open(postgres.New(postgres.Config{Conn: db}), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Table, cfg.CleanupInterval = table, -1
		s, err := gormstore.NewWithConfig(g, cfg)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	bunStore := func(table string, cfg bunstore.Config) scs.Store {
		db, _ := pgSQLDB(b)
		cfg.Table, cfg.CleanupInterval = table, -1
		s, err := bunstore.NewWithConfig(bun.NewDB(db, pgdialect.New()), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		return s
	}
	for _, t := range []struct {
		name  string
		store func() scs.Store
	}{
		{"gormstore/durable", func() scs.Store { return gormStore("t_async_gorm", gormstore.Config{}) }},
		{"gormstore/async", func() scs.Store { return gormStore("t_async_gorm", gormstore.Config{AsyncCommit: true}) }},
		{"gormstore+callbacks/durable", func() scs.Store {
			return gormStore("t_async_gorm", gormstore.Config{Callbacks: true})
		}},
		{"gormstore+callbacks/async", func() scs.Store {
			return gormStore("t_async_gorm", gormstore.Config{Callbacks: true, AsyncCommit: true})
		}},
		{"bunstore/durable", func() scs.Store { return bunStore("t_async_bun", bunstore.Config{}) }},
		{"bunstore/async", func() scs.Store { return bunStore("t_async_bun", bunstore.Config{AsyncCommit: true}) }},
	} {
		b.Run(t.name, func(b *testing.B) {
			s := t.store()
			expiry := time.Now().Add(idle)
			data := []byte("session data 0")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				data[len(data)-1] = byte('0' + i%10) // changed data
				if err := s.Commit("async-bench-session", data, expiry); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
		})
	}
}
