package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	_ "github.com/go-sql-driver/mysql" // the mysql driver, for MariaDB and MySQL
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
	_ "modernc.org/sqlite" // the sqlite driver, pure Go

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/bunstore"
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
	defaultStore = "sqlite"
	storeNames   = "memory|sqlite|postgres|mysql"
	// defaultPostgresDSN and defaultMySQLDSN are the local databases that
	// make test sets up.
	defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC"
)

// defaultSQLitePath is the demo's database file under the user's cache
// directory, so that the default needs nothing installed.
func defaultSQLitePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "sessionstore-demo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(dir, "sessions.db"), nil
}

// openStore opens the store called name, with its per-user index reading
// owners with owner; cleanup, if not zero, is its cleanup interval.
func openStore(ctx context.Context, name, dsn string, cleanup time.Duration, owner sessionstore.OwnerFunc, log *slog.Logger) (*openedStore, error) {
	switch name {
	case "memory":
		s, err := memstore.NewWithConfig(memstore.Config{Logger: log, CleanupInterval: cleanup, Owner: owner})
		if err != nil {
			return nil, err
		}
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
		s, err := pgstore.NewWithConfig(pool, pgstore.Config{CreateTable: true, Logger: log, CleanupInterval: cleanup, Owner: owner})
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
	case "sqlite":
		path := dsn
		if path == "" {
			var err error
			if path, err = defaultSQLitePath(); err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
		}
		log.Info("sessions in SQLite", "file", path)
		// WAL and a busy timeout let readers run beside the one writer; one
		// connection makes writers queue instead of failing with SQLITE_BUSY.
		return openBun(ctx, "sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)",
			sqlitedialect.New(), 1, "sqlite ("+path+")", cleanup, owner, log)
	case "mysql":
		if dsn == "" {
			dsn = defaultMySQLDSN
		}
		return openBun(ctx, "mysql", dsn, mysqldialect.New(), 16, "mysql", cleanup, owner, log)
	}
	return nil, fmt.Errorf("unknown store %q (want %s)", name, storeNames)
}

// openBun opens a bunstore on a database/sql driver and creates its tables.
func openBun(ctx context.Context, driver, dsn string, dialect schema.Dialect, conns int, describe string, cleanup time.Duration, owner sessionstore.OwnerFunc, log *slog.Logger) (*openedStore, error) {
	sqldb, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)
	db := bun.NewDB(sqldb, dialect)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	s, err := bunstore.NewWithConfig(db, bunstore.Config{Logger: log, CleanupInterval: cleanup, Owner: owner})
	if err == nil {
		err = s.Migrate(ctx)
	}
	if err != nil {
		if s != nil {
			s.StopCleanup()
		}
		db.Close()
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	return &openedStore{
		store:    s,
		describe: describe,
		health:   db.PingContext,
		close:    func() { s.StopCleanup(); db.Close() },
	}, nil
}
