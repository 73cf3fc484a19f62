package gorillastore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/memstore"
)

// The adapter serves gorilla/sessions from any SCS-style store, here the
// in-memory one.
func Example() {
	hashKey := []byte("a 32-byte secret, from your config") // securecookie.GenerateRandomKey(32)
	sessions := memstore.New()
	defer sessions.StopCleanup()
	store, err := gorillastore.New(sessions, hashKey)
	if err != nil {
		log.Fatal(err)
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session, err := store.Get(r, "session")
		if err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		n, _ := session.Values["visits"].(int)
		session.Values["visits"] = n + 1
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	})

	// Two requests from one browser: the second carries the cookie.
	first := httptest.NewRecorder()
	handler.ServeHTTP(first, httptest.NewRequest("GET", "/", nil))
	second := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(first.Result().Cookies()[0])
	handler.ServeHTTP(second, req)
	fmt.Println(first.Body.String())
	fmt.Println(second.Body.String())
	// Output:
	// visit 1
	// visit 2
}

// PGStore is a drop-in for antonlindstrom/pgstore.
func ExampleNewPGStoreFromPool() {
	pool, err := pgxpool.New(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := gorillastore.NewPGStoreFromPool(pool, []byte(os.Getenv("SESSION_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the cleanup; leaves the pool open
	quit, done := store.StartCleanup(5 * time.Minute)
	defer store.StopCleanup(quit, done)

	http.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		session, _ := store.Get(r, "session")
		session.Options.MaxAge = -1 // deletes the row and the cookie
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}
