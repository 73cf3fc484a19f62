package hardening

import (
	"net/http"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore/pgstore"
)

// touchBackends are stores with Config.TouchWindow, each as two replicas on
// one backend: the second, with its own local view, serves the sign-out.
func touchBackends() []struct {
	name string
	open func(t testing.TB) (a, b Store)
} {
	pg := func(base pgstore.Config) func(t testing.TB) (Store, Store) {
		return func(t testing.TB) (Store, Store) {
			pool := postgres(t)
			cfg := base // each call (each parallel subtest) its own table
			cfg.Table, cfg.CreateTable, cfg.CleanupInterval, cfg.TouchWindow = uniqueName("hardening_touch"), true, -1, time.Minute
			a, err := pgstore.NewWithConfig(pool, cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := pgstore.NewWithConfig(pool, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dropTables(t, pool, cfg.Table, cfg.Table+"_tombstones") })
			return a, b
		}
	}
	return append([]struct {
		name string
		open func(t testing.TB) (a, b Store)
	}{
		{"pgstore", pg(pgstore.Config{})},
		{"pgstore+async", pg(pgstore.Config{AsyncCommit: true})},
	}, moreTouchBackends()...)
}

// TestLogoutRaceTouch is the logout race with coalesced touches, in the
// shape they could lose it: SCS with IdleTimeout commits every request's
// session, and the slow request only reads (its Commit is unchanged, the
// kind the window skips). The sign-out goes through the same store, or
// through another replica whose Delete this store's local view does not
// see. Either way the session must stay gone.
func TestLogoutRaceTouch(t *testing.T) {
	for _, bk := range touchBackends() {
		for _, where := range []string{"same store", "replica"} {
			t.Run(bk.name+"/"+where, func(t *testing.T) {
				t.Parallel()
				const reps = 100 // TestLogoutRaceSCS races 1000 times per store; these add the skip
				a, b := bk.open(t)
				signout := a
				if where == "replica" {
					signout = b
				}
				app := newTouchRaceApp(a, signout)
				if n := logoutRaces(t, app, reps); n > 0 {
					t.Fatalf("%d of %d sessions came back after sign-out", n, reps)
				}
			})
		}
	}
}

// newTouchRaceApp is the race application with IdleTimeout, whose slow
// request only reads, and whose sign-out runs on its own manager over
// signout (a replica, or the same store).
func newTouchRaceApp(store, signout scs.Store) *raceApp {
	a := newRaceApp()
	configure := func(s scs.Store) *scs.SessionManager {
		sm := scs.New()
		sm.Store, sm.IdleTimeout, sm.Lifetime = s, 30*time.Minute, time.Hour
		return sm
	}
	sm, smOut := configure(store), configure(signout)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		sm.Put(r.Context(), "user", "alice")
		sm.Put(r.Context(), "csrf", "x")
		sm.Put(r.Context(), "theme", "dark")
	})
	mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		a.loaded <- struct{}{}
		<-a.release
		_ = sm.GetString(r.Context(), "user") // reads only: an unchanged Commit
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(sm.GetString(r.Context(), "user")))
	})
	out := http.NewServeMux()
	out.HandleFunc("POST /signout", func(w http.ResponseWriter, r *http.Request) {
		if err := smOut.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	main, signOut := sm.LoadAndSave(mux), smOut.LoadAndSave(out)
	a.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/signout" {
			signOut.ServeHTTP(w, r)
			return
		}
		main.ServeHTTP(w, r)
	})
	return a
}
