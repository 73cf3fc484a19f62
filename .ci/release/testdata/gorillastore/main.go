// Command gorillastore is what a user of gorillastore builds: the
// gorilla/sessions adapter over memstore (no database), and PGStore on
// PostgreSQL when SESSIONSTORE_POSTGRES_DSN is set.
package main

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/memstore"
)

var key = []byte("release-check hash key of 32 bytes")

func main() {
	mem := memstore.New()
	adapter, err := gorillastore.New(mem, key)
	if err == nil {
		err = roundTrip(adapter)
	}
	check("gorillastore adapter on memstore: save, load, delete", err)
	mem.StopCleanup()

	if url, ok := dsn("SESSIONSTORE_POSTGRES_DSN"); ok {
		check("gorillastore PGStore on PostgreSQL: save, load, delete", runPG(url))
	}
	exit()
}

// roundTrip saves a value, loads it back with the cookie the save set, then
// deletes the session (MaxAge -1) and checks that the cookie no longer
// loads it.
func roundTrip(store sessions.Store) error {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	s, err := store.Get(r, "session")
	if err != nil {
		return fmt.Errorf("get a new session: %w", err)
	}
	s.Values["user"] = "ada"
	if err := s.Save(r, w); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		return fmt.Errorf("save set %d cookies, want 1", len(cookies))
	}
	load := func() (*sessions.Session, error) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookies[0])
		return store.Get(r, "session")
	}
	s, err = load()
	if err != nil || s.IsNew || s.Values["user"] != "ada" {
		return fmt.Errorf("load: new %v, values %v, %v", s != nil && s.IsNew, s.Values, err)
	}
	s.Options.MaxAge = -1
	if err := s.Save(r, httptest.NewRecorder()); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	s, err = load()
	if err != nil && s == nil {
		return fmt.Errorf("load after delete: %w", err)
	}
	if !s.IsNew || len(s.Values) != 0 {
		return fmt.Errorf("load after delete: got the deleted session, values %v", s.Values)
	}
	return nil
}

func runPG(url string) (err error) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	name := table()
	store, err := gorillastore.NewPGStoreWithConfig(pool, gorillastore.PGConfig{
		Config: gorillastore.Config{KeyPairs: [][]byte{key}},
		Table:  name,
	})
	if err != nil {
		return err
	}
	defer func() {
		store.Close()
		if _, dropErr := pool.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s, %s_tombstones", name, name)); err == nil {
			err = dropErr
		}
	}()
	return roundTrip(store)
}
