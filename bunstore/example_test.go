package bunstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/sessionstore/sessionstore/bunstore"
)

// The store on SQLite, through the pure-Go modernc.org/sqlite driver and
// Bun's sqlitedialect: WAL, a busy timeout and one connection.
func Example_sqlite() {
	dir, err := os.MkdirTemp("", "bunstore")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dsn := "file:" + filepath.Join(dir, "app.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		log.Fatal(err)
	}
	sqldb.SetMaxOpenConns(1)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()

	store, err := bunstore.New(db)
	if err != nil {
		log.Fatal(err)
	}
	defer store.StopCleanup()
	if err := store.Migrate(context.Background()); err != nil { // creates the sessions table
		log.Fatal(err)
	}

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

// The store on PostgreSQL through pgx's database/sql driver
// (import _ "github.com/jackc/pgx/v5/stdlib"). This example is compiled but
// not run: it needs a server.
func Example_postgres() {
	sqldb, err := sql.Open("pgx", "postgres://app@127.0.0.1:5432/app?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	sqldb.SetMaxOpenConns(16)
	sqldb.SetMaxIdleConns(16)
	db := bun.NewDB(sqldb, pgdialect.New())

	store, err := bunstore.NewWithConfig(db, bunstore.Config{
		Table:           "sessions",
		CleanupInterval: 10 * time.Minute,
		MaxDataSize:     64 << 10,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(context.Background()); err != nil {
		log.Fatal(err)
	}
	sessionManager := scs.New()
	sessionManager.Store = store
}

// The store on MySQL or MariaDB through github.com/go-sql-driver/mysql and
// Bun's mysqldialect. The DSN must have parseTime=true and loc=UTC. This
// example is compiled but not run: it needs a server.
func Example_mysql() {
	sqldb, err := sql.Open("mysql", "app:secret@tcp(127.0.0.1:3306)/app?parseTime=true&loc=UTC")
	if err != nil {
		log.Fatal(err)
	}
	db := bun.NewDB(sqldb, mysqldialect.New())
	store, err := bunstore.New(db)
	if err != nil {
		log.Fatal(err)
	}
	sessionManager := scs.New()
	sessionManager.Store = store
}
