package pgstore_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/pgstore"
)

// databaseURL is where the examples run: SESSIONSTORE_POSTGRES_DSN, or the local
// test database.
func databaseURL() string {
	if dsn := os.Getenv("SESSIONSTORE_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// An SCS session manager keeping its sessions in PostgreSQL.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, databaseURL())
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	// pgstore.New(pool) is all an application on SCS's table needs; here
	// the example makes a table of its own, and drops it at the end.
	table := fmt.Sprintf("example_sessions_%d", time.Now().UnixNano())
	store, err := pgstore.NewWithConfig(pool, pgstore.Config{Table: table, CreateTable: true})
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Exec(ctx, "DROP TABLE "+table+", "+table+"_tombstones")
	defer store.StopCleanup()

	sessionManager := scs.New()
	sessionManager.Store = store
	sessionManager.Lifetime = 24 * time.Hour

	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		sessionManager.Put(r.Context(), "message", "Hello from PostgreSQL!")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sessionManager.GetString(r.Context(), "message"))
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionManager.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(sessionManager.LoadAndSave(mux))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/put", "/get", "/logout", "/get"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %q\n", path, body)
	}
	// Output:
	// /put: ""
	// /get: "Hello from PostgreSQL!"
	// /logout: ""
	// /get: ""
}

// Cleanup run from a cron job rather than from every replica: make the
// store without a cleanup goroutine and call DeleteExpired on a schedule.
func ExamplePostgresStore_DeleteExpired() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, databaseURL())
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.NewWithConfig(pool, pgstore.Config{CleanupInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	n, err := store.DeleteExpired(ctx)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("deleted %d expired sessions and tombstones", n)
}
