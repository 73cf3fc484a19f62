package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sessionstore/sessionstore/memstore"
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
	storeNames   = "memory"
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
	}
	return nil, fmt.Errorf("unknown store %q (want %s)", name, storeNames)
}
