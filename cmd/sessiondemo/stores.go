package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/pgstore"
)

// openedStore is a store opened for the demo, with what it needs to report
// its health and to close.
type openedStore struct {
	store    Store
	describe string
	health   func(context.Context) error
	close    func()
}

const (
	defaultStore = "memory"
	storeNames   = "memory|postgres"
	// defaultPostgresDSN is the local database the README's set-up provides.
	defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

func openStore(ctx context.Context, name, dsn string, log *slog.Logger) (*openedStore, error) {
	switch name {
	case "memory":
		s := memstore.NewWithConfig(memstore.Config{Logger: log})
		return &openedStore{
			store:    s,
			describe: "memory",
			health:   func(context.Context) error { return nil },
			close:    s.StopCleanup,
		}, nil
	case "postgres":
		if dsn == "" {
			dsn = defaultPostgresDSN
		}
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: %w", err)
		}
		s, err := pgstore.NewWithConfig(pool, pgstore.Config{CreateTable: true, Logger: log})
		if err != nil {
			pool.Close()
			return nil, err
		}
		return &openedStore{
			store:    s,
			describe: "postgres (" + pool.Config().ConnConfig.Host + "/" + pool.Config().ConnConfig.Database + ")",
			health:   pool.Ping,
			close:    func() { s.StopCleanup(); pool.Close() },
		}, nil
	}
	return nil, fmt.Errorf("unknown store %q (want %s)", name, storeNames)
}
