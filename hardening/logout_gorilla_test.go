package hardening

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/storetest"
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
		Config: gorillastore.Config{KeyPairs: [][]byte{[]byte(gorillaKey)}},
		Table:  table,
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

// lateMaxAge is the sliding lifetime of the late-save races: gorilla's
// Options.MaxAge, renewed by every Save.
const lateMaxAge = 2 // seconds

// logoutRacesLate runs reps logout races in which the slow request saves
// after the deleted session's old expiry and after a cleanup run: between
// the sign-out and the slow request's Save, clock moves past the expiry
// that the sign-in gave the session (now + MaxAge) and cleanup runs. The
// Save carries a new, later expiry (gorilla's MaxAge slides). It returns
// how many sessions came back.
func logoutRacesLate(t *testing.T, store sessions.Store, clock *storetest.Clock, cleanup func(context.Context) (int64, error), reps int) int {
	app := newGorillaApp(t, store)
	app.afterSignOut = func(t *testing.T) {
		clock.Advance(lateMaxAge*time.Second + time.Second)
		if _, err := cleanup(context.Background()); err != nil {
			t.Fatalf("cleanup: %v", err)
		}
	}
	return logoutRaces(t, app, reps)
}

// lateReps is the number of late-save races per store.
const lateReps = 50

// TestLogoutRaceGorillaLateSavePGStore: on PGStore, a slow request that
// loaded the session before the sign-out saves it after the session's old
// expiry and after a cleanup run, with a later expiry. The session must
// stay signed out.
func TestLogoutRaceGorillaLateSavePGStore(t *testing.T) {
	pool := postgres(t)
	table := uniqueName("hardening_http")
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	store, err := gorillastore.NewPGStoreWithConfig(pool, gorillastore.PGConfig{
		Config: gorillastore.Config{
			KeyPairs: [][]byte{[]byte(gorillaKey)},
			Options:  &sessions.Options{Path: "/", MaxAge: lateMaxAge},
			Now:      clock.Now,
		},
		Table: table,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Close()
		dropTables(t, pool, table, table+"_tombstones")
	})
	if n := logoutRacesLate(t, store, clock, store.DeleteExpired, lateReps); n > 0 {
		t.Fatalf("%d of %d sessions came back after sign-out", n, lateReps)
	}
	t.Logf("PGStore: 0 resurrections in %d late-save logout races", lateReps)
}

// TestLogoutRaceGorillaLateSaveAdapterMemstore: the same race on the
// adapter over memstore, which has no update-only method: the session stays
// signed out only because memstore's tombstone outlives the old expiry.
func TestLogoutRaceGorillaLateSaveAdapterMemstore(t *testing.T) {
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	m, err := memstore.NewWithConfig(memstore.Config{Now: clock.Now, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.StopCleanup)
	store, err := gorillastore.NewWithConfig(m, gorillastore.Config{
		KeyPairs: [][]byte{[]byte(gorillaKey)},
		Options:  &sessions.Options{Path: "/", MaxAge: lateMaxAge},
		Now:      clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := logoutRacesLate(t, store, clock, m.DeleteExpired, lateReps); n > 0 {
		t.Fatalf("%d of %d sessions came back after sign-out", n, lateReps)
	}
	t.Logf("adapter over memstore: 0 resurrections in %d late-save logout races", lateReps)
}
