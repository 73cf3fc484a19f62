package hardening

import (
	"net/http"
	"testing"

	"github.com/gorilla/sessions"

	"github.com/sessionstore/sessionstore/gorillastore"
)

const gorillaKey = "hardening-test-key-0123456789abcdef"

// newGorillaApp is the race application on gorilla/sessions over store;
// sign-out saves with MaxAge -1.
func newGorillaApp(t *testing.T, store sessions.Store) *raceApp {
	a := newRaceApp()
	get := func(w http.ResponseWriter, r *http.Request) *sessions.Session {
		s, err := store.Get(r, "sid")
		if err != nil {
			t.Errorf("Get: %v", err)
		}
		return s
	}
	save := func(w http.ResponseWriter, r *http.Request, s *sessions.Session) {
		if err := s.Save(r, w); err != nil {
			t.Errorf("Save: %v", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		s := get(w, r)
		s.Values["user"] = "alice"
		save(w, r, s)
	})
	mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		s := get(w, r)
		a.loaded <- struct{}{}
		<-a.release
		n, _ := s.Values["visits"].(int)
		s.Values["visits"] = n + 1
		save(w, r, s)
	})
	mux.HandleFunc("POST /signout", func(w http.ResponseWriter, r *http.Request) {
		s := get(w, r)
		s.Options.MaxAge = -1
		save(w, r, s)
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := get(w, r)
		user, _ := s.Values["user"].(string)
		w.Write([]byte(user))
	})
	a.handler = mux
	return a
}

// logoutRacesGorilla runs reps logout races through gorilla over store.
func logoutRacesGorilla(t *testing.T, store sessions.Store, reps int) int {
	return logoutRaces(t, newGorillaApp(t, store), reps)
}

// TestLogoutRaceGorilla: the logout race through gorilla/sessions, on the
// adapter over every store.
func TestLogoutRaceGorilla(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store, err := gorillastore.New(b.open(t), []byte(gorillaKey))
			if err != nil {
				t.Fatal(err)
			}
			const reps = 1000
			if n := logoutRacesGorilla(t, store, reps); n > 0 {
				t.Fatalf("%d of %d sessions came back after sign-out", n, reps)
			}
			t.Logf("%s: 0 resurrections in %d logout races through gorilla/sessions", b.name, reps)
		})
	}
}

// TestLogoutRaceGorillaPGStore: the same race on PGStore, the PostgreSQL
// store with antonlindstrom/pgstore's API.
func TestLogoutRaceGorillaPGStore(t *testing.T) {
	pool := postgres(t)
	table := uniqueName("hardening_http")
	store, err := gorillastore.NewPGStoreWithConfig(pool, gorillastore.PGConfig{
		Config:    gorillastore.Config{KeyPairs: [][]byte{[]byte(gorillaKey)}},
		TableName: table,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Close()
		dropTables(t, pool, table, table+"_tombstones")
	})
	const reps = 1000
	if n := logoutRacesGorilla(t, store, reps); n > 0 {
		t.Fatalf("%d of %d sessions came back after sign-out", n, reps)
	}
	t.Logf("PGStore: 0 resurrections in %d logout races through gorilla/sessions", reps)
}

// The race is real: gorilla's own FilesystemStore keeps no tombstones and
// loses it.
func TestLogoutRaceGorillaCatchesResurrection(t *testing.T) {
	fs := sessions.NewFilesystemStore(t.TempDir(), []byte(gorillaKey))
	if n := logoutRacesGorilla(t, fs, 20); n != 20 {
		t.Fatalf("FilesystemStore resurrected %d of 20 sessions, want all: the harness does not reproduce the race", n)
	}
}
