package gormstore_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessionstore/sessionstore/gormstore"
)

// The store on SQLite, through the pure-Go github.com/glebarez/sqlite
// driver: WAL, a busy timeout and one connection.
func Example_sqlite() {
	dir, err := os.MkdirTemp("", "gormstore")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dsn := "file:" + filepath.Join(dir, "app.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(1)

	store, err := gormstore.New(db) // creates the sessions table
	if err != nil {
		log.Fatal(err)
	}
	defer store.StopCleanup()

	sessionManager := scs.New()
	sessionManager.Store = store

	if err := store.Commit("token-1", []byte("hello"), time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	data, found, err := store.Find("token-1")
	fmt.Println(string(data), found, err)

	store.Delete("token-1")
	store.Commit("token-1", []byte("hello"), time.Now().Add(time.Hour)) // too late: a no-op
	_, found, _ = store.Find("token-1")
	fmt.Println(found)
	// Output:
	// hello true <nil>
	// false
}

// The store on PostgreSQL through gorm.io/driver/postgres (pgx). This
// example is compiled but not run: it needs a server.
func Example_postgres() {
	dsn := "host=127.0.0.1 user=postgres dbname=app sslmode=disable"
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(16)
	sqlDB.SetMaxIdleConns(16)

	store, err := gormstore.NewWithConfig(db, gormstore.Config{
		Table:           "sessions",
		CleanupInterval: 10 * time.Minute,
		MaxDataSize:     64 << 10,
	})
	if err != nil {
		log.Fatal(err)
	}
	sessionManager := scs.New()
	sessionManager.Store = store
}

// The store on MySQL or MariaDB through gorm.io/driver/mysql. The DSN must
// have parseTime=true and loc=UTC. This example is compiled but not run: it
// needs a server.
func Example_mysql() {
	dsn := "app:secret@tcp(127.0.0.1:3306)/app?parseTime=true&loc=UTC"
	db, err := gorm.Open(mysql.Open(dsn), &gorm.Config{})
	if err != nil {
		log.Fatal(err)
	}
	store, err := gormstore.New(db)
	if err != nil {
		log.Fatal(err)
	}
	sessionManager := scs.New()
	sessionManager.Store = store
}
