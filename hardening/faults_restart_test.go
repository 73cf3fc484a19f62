package hardening

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"
	gmysql "gorm.io/driver/mysql"
	gpostgres "gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/faulttest"
	"github.com/sessionstore/sessionstore/storetest"
)

// TestRestartUnderLoadORM crashes and restarts a private PostgreSQL and a
// private MariaDB in the middle of a load on gormstore and bunstore: every
// operation succeeds or fails (never "not found" for a live session), no
// committed session is lost, and the same store recovers by itself, with
// its cleanup running through the restart. (SQLite has no server to
// restart; pgstore has its own test of this.)
func TestRestartUnderLoadORM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts database servers")
	}
	cases := []struct {
		name  string
		start func(t *testing.T) *faulttest.Server
		open  func(t *testing.T, dsn string) storetest.Store
	}{
		{"bunstore/postgres", faulttest.StartPostgres, func(t *testing.T, dsn string) storetest.Store {
			return bunOn(t, "pgx", dsn, pgdialect.New())
		}},
		{"bunstore/mariadb", faulttest.StartMariaDB, func(t *testing.T, dsn string) storetest.Store {
			return bunOn(t, "mysql", dsn, mysqldialect.New())
		}},
		{"gormstore/postgres", faulttest.StartPostgres, func(t *testing.T, dsn string) storetest.Store {
			return gormOn(t, gpostgres.Open(dsn))
		}},
		{"gormstore/mariadb", faulttest.StartMariaDB, func(t *testing.T, dsn string) storetest.Store {
			return gormOn(t, gmysql.Open(dsn))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := c.start(t)
			s := c.open(t, srv.DSN())
			faulttest.RestartUnderLoad(t, s, 6, func() { srv.Restart(t) })
		})
	}
}

// quiet takes the cleanup loop's logs: its failures during a restart are
// expected.
var quiet = slog.New(slog.DiscardHandler)

func bunOn(t *testing.T, driver, dsn string, d schema.Dialect) storetest.Store {
	t.Helper()
	db, closeDB, err := openBunDB(driver, dsn, d, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	s, err := bunstore.NewWithConfig(db, bunstore.Config{CleanupInterval: 50 * time.Millisecond, Logger: quiet})
	if err == nil {
		err = s.Migrate(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.StopCleanup)
	return s
}

func gormOn(t *testing.T, dialector gorm.Dialector) storetest.Store {
	t.Helper()
	db, closeDB, err := openGormDB(dialector, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	s, err := gormstore.NewWithConfig(db, gormstore.Config{CleanupInterval: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.StopCleanup)
	return s
}
