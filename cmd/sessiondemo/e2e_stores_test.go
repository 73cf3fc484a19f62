package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/sessionstore/sessionstore/internal/testenv"
)

// e2eCase is one store the browser test runs the demo on.
type e2eCase struct {
	name       string
	cfg        config
	persistent bool
}

func e2eStores(t *testing.T) []e2eCase {
	return []e2eCase{
		{name: "memory", cfg: config{addr: "127.0.0.1:0", store: "memory", framework: "scs"}},
		{name: "memory-gorilla", cfg: config{addr: "127.0.0.1:0", store: "memory", framework: "gorilla", key: testKey}},
		{name: "sqlite", cfg: config{addr: "127.0.0.1:0", store: "sqlite", framework: "scs", dsn: filepath.Join(t.TempDir(), "demo.db")}, persistent: true},
		{name: "postgres", cfg: config{addr: "127.0.0.1:0", store: "postgres", framework: "scs", dsn: postgresSchema(t)}, persistent: true},
		{name: "postgres-gorilla", cfg: config{addr: "127.0.0.1:0", store: "postgres", framework: "gorilla", key: testKey, dsn: postgresSchema(t)}, persistent: true},
		{name: "sqlite-gorilla", cfg: config{addr: "127.0.0.1:0", store: "sqlite", framework: "gorilla", key: testKey, dsn: filepath.Join(t.TempDir(), "demo.db")}, persistent: true},
		{name: "mysql", cfg: config{addr: "127.0.0.1:0", store: "mysql", framework: "scs", dsn: mysqlDatabase(t)}, persistent: true},
		{name: "mysql-gorilla", cfg: config{addr: "127.0.0.1:0", store: "mysql", framework: "gorilla", key: testKey, dsn: mysqlDatabase(t)}, persistent: true},
	}
}

// mysqlDatabase creates a database of its own for one test on the local
// MariaDB or MySQL (SESSIONSTORE_MYSQL_DSN, default the test database's
// server) and returns a DSN for it, so that the demo's "sessions" table
// never meets another test's.
func mysqlDatabase(t *testing.T) string {
	t.Helper()
	base := testenv.MySQLDSN()
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		testenv.Unavailable(t, "MariaDB", "set "+testenv.MySQLEnv, err)
	}
	name := fmt.Sprintf("demo_e2e_%d", time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("mysql", base); err == nil {
			db.Exec("DROP DATABASE " + name)
			db.Close()
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// soakStores are the stores the load soak runs on: one of each kind and the
// gorilla adapter on memory and PostgreSQL (ten seconds each, so not all
// eight).
func soakStores(t *testing.T) []e2eCase {
	var out []e2eCase
	for _, c := range e2eStores(t) {
		switch c.name {
		case "memory", "memory-gorilla", "sqlite", "postgres", "postgres-gorilla", "mysql":
			out = append(out, c)
		}
	}
	return out
}

const testKey = "sessiondemo-test-key-0123456789abcdef"

// postgresSchema creates a schema of its own for one test on the local
// PostgreSQL (SESSIONSTORE_POSTGRES_DSN, default the test database) and returns
// a DSN whose search_path points at it, so that the demo's "sessions" table
// never meets another test's.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL", "set "+testenv.PostgresEnv, err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("demo_e2e_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, base); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
