// Command bunstore is what a user of bunstore builds: the store on SQLite
// (modernc.org/sqlite, no server), and on PostgreSQL and MySQL/MariaDB when
// SESSIONSTORE_POSTGRES_DSN and SESSIONSTORE_MYSQL_DSN are set.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
	_ "modernc.org/sqlite"

	"github.com/sessionstore/sessionstore/bunstore"
)

func main() {
	dir, err := os.MkdirTemp("", "bunstore")
	if err != nil {
		check("bunstore on SQLite", err)
		exit()
	}
	check("bunstore on SQLite: commit, find, delete",
		run("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(10000)", sqlitedialect.New(), 1))
	os.RemoveAll(dir)
	if url, ok := dsn("SESSIONSTORE_POSTGRES_DSN"); ok {
		check("bunstore on PostgreSQL: commit, find, delete", run("pgx", url, pgdialect.New(), 4))
	}
	if url, ok := dsn("SESSIONSTORE_MYSQL_DSN"); ok {
		check("bunstore on MySQL: commit, find, delete", run("mysql", url, mysqldialect.New(), 4))
	}
	exit()
}

func run(driver, url string, dialect schema.Dialect, conns int) (err error) {
	sqldb, err := sql.Open(driver, url)
	if err != nil {
		return err
	}
	sqldb.SetMaxOpenConns(conns)
	db := bun.NewDB(sqldb, dialect)
	defer db.Close()
	name := table()
	store, err := bunstore.NewWithConfig(db, bunstore.Config{Table: name})
	if err != nil {
		return err
	}
	ctx := context.Background()
	defer func() {
		store.StopCleanup()
		for _, t := range []string{name, name + "_tombstones"} {
			if _, dropErr := db.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s", t)); err == nil {
				err = dropErr
			}
		}
	}()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	return exercise(store)
}
