package hardening

import (
	"context"
	"testing"
	"time"

	gsqlite "github.com/glebarez/sqlite"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	gmysql "gorm.io/driver/mysql"
	gpostgres "gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/redisstore"
)

// touchReplicas is a backend of TestLogoutRaceTouch: two stores with
// Config.TouchWindow on one backend.
type touchReplicas = struct {
	name string
	open func(t testing.TB) (a, b Store)
}

// moreTouchBackends are gormstore and bunstore on PostgreSQL, MariaDB and
// SQLite, and redisstore on one server and on the cluster (each replica with
// its own client), each as two replicas with a one-minute TouchWindow.
func moreTouchBackends() []touchReplicas {
	const pgWhat, pgHow = "PostgreSQL at 127.0.0.1:5432", "start it, or run make test"
	const myWhat, myHow = "MariaDB at 127.0.0.1:3306", "start it, or run make test"
	bunPair := func(name string, l *lazy[*bun.DB], what, how string, open func() (*bun.DB, func(), error)) touchReplicas {
		return touchReplicas{name, func(t testing.TB) (Store, Store) {
			db := l.get(t, what, how, open)
			cfg := bunstore.Config{Table: uniqueName("htb"), CleanupInterval: -1, TouchWindow: time.Minute}
			a, err := bunstore.NewWithConfig(db, cfg)
			if err == nil {
				err = a.Migrate(context.Background())
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := bunstore.NewWithConfig(db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				db.NewDropTable().Table(cfg.Table, cfg.Table+"_tombstones").IfExists().Exec(context.Background())
			})
			return a, b
		}}
	}
	gormPair := func(name string, l *lazy[*gorm.DB], what, how string, open func() (*gorm.DB, func(), error)) touchReplicas {
		return touchReplicas{name, func(t testing.TB) (Store, Store) {
			db := l.get(t, what, how, open)
			cfg := gormstore.Config{Table: uniqueName("htg"), CleanupInterval: -1, TouchWindow: time.Minute}
			a, err := gormstore.NewWithConfig(db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := gormstore.NewWithConfig(db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Migrator().DropTable(cfg.Table, cfg.Table+"_tombstones") })
			return a, b
		}}
	}
	redisPair := func(name string, client func(t testing.TB) redis.UniversalClient) touchReplicas {
		return touchReplicas{name, func(t testing.TB) (Store, Store) {
			prefix := redisPrefix()
			cfg := redisstore.Config{TouchWindow: time.Minute}
			return openRedisStore(t, client(t), prefix, cfg), openRedisStore(t, client(t), prefix, cfg)
		}}
	}
	return []touchReplicas{
		bunPair("bunstore/postgres", &bunPG, pgWhat, pgHow, func() (*bun.DB, func(), error) {
			return openBunDB("pgx", pgDSN, pgdialect.New(), 16)
		}),
		bunPair("bunstore/mariadb", &bunMy, myWhat, myHow, func() (*bun.DB, func(), error) {
			return openBunDB("mysql", mysqlDSN, mysqldialect.New(), 16)
		}),
		bunPair("bunstore/sqlite", &bunLite, "SQLite", "check the file system", func() (*bun.DB, func(), error) {
			return openBunDB("sqlite", sqliteDSN("bun"), sqlitedialect.New(), 1)
		}),
		gormPair("gormstore/postgres", &gormPG, pgWhat, pgHow, func() (*gorm.DB, func(), error) {
			return openGormDB(gpostgres.Open(pgDSN), 16)
		}),
		gormPair("gormstore/mariadb", &gormMy, myWhat, myHow, func() (*gorm.DB, func(), error) {
			return openGormDB(gmysql.Open(mysqlDSN), 16)
		}),
		gormPair("gormstore/sqlite", &gormLite, "SQLite", "check the file system", func() (*gorm.DB, func(), error) {
			return openGormDB(gsqlite.Open(sqliteDSN("gorm")), 1)
		}),
		redisPair("redisstore", func(t testing.TB) redis.UniversalClient { return redisSingle(t) }),
		redisPair("redisstore-cluster", func(t testing.TB) redis.UniversalClient { return redisCluster(t) }),
	}
}
