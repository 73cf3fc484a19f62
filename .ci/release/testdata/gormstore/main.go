// Command gormstore is what a user of gormstore builds: the store on SQLite
// (pure Go, no server), and on PostgreSQL and MySQL/MariaDB when
// SESSIONSTORE_POSTGRES_DSN and SESSIONSTORE_MYSQL_DSN are set.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessionstore/sessionstore/gormstore"
)

func main() {
	dir, err := os.MkdirTemp("", "gormstore")
	if err != nil {
		check("gormstore on SQLite", err)
		exit()
	}
	check("gormstore on SQLite: commit, find, delete",
		run(sqlite.Open("file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(10000)"), 1))
	os.RemoveAll(dir)
	if url, ok := dsn("SESSIONSTORE_POSTGRES_DSN"); ok {
		check("gormstore on PostgreSQL: commit, find, delete", run(postgres.Open(url), 4))
	}
	if url, ok := dsn("SESSIONSTORE_MYSQL_DSN"); ok {
		check("gormstore on MySQL: commit, find, delete", run(mysql.Open(url), 4))
	}
	exit()
}

func run(dialector gorm.Dialector, conns int) (err error) {
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(conns)
	name := table()
	store, err := gormstore.NewWithConfig(db, gormstore.Config{Table: name})
	if err != nil {
		return err
	}
	defer func() {
		store.StopCleanup()
		for _, t := range []string{name, name + "_tombstones"} {
			if dropErr := db.Exec(fmt.Sprintf("DROP TABLE IF EXISTS %s", t)).Error; err == nil {
				err = dropErr
			}
		}
	}()
	return exercise(store)
}
