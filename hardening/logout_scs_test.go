package hardening

import (
	"net/http"
	"testing"

	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
)

// newSCSApp is the race application on an scs.SessionManager over store,
// configured further by each of configure.
func newSCSApp(store scs.Store, configure ...func(*scs.SessionManager)) *raceApp {
	a := newRaceApp()
	sm := scs.New()
	sm.Store = store
	for _, c := range configure {
		c(sm)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		sm.Put(r.Context(), "user", "alice")
	})
	mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		a.loaded <- struct{}{}
		<-a.release
		// A request that changes the session commits it when it ends.
		sm.Put(r.Context(), "visits", sm.GetInt(r.Context(), "visits")+1)
	})
	mux.HandleFunc("POST /signout", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(sm.GetString(r.Context(), "user")))
	})
	a.handler = sm.LoadAndSave(mux)
	return a
}

// TestLogoutRaceSCS: a request in flight when the user signs out commits
// the session it loaded after the sign-out. The session must stay gone.
func TestLogoutRaceSCS(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			const reps = 1000
			if n := logoutRacesSCS(t, b.open(t), reps); n > 0 {
				t.Fatalf("%d of %d sessions came back after sign-out", n, reps)
			}
			t.Logf("%s: 0 resurrections in %d logout races through scs.SessionManager", b.name, reps)
		})
	}
}

// The race is real: SCS's own memstore, which keeps no tombstones, loses it.
func TestLogoutRaceSCSCatchesResurrection(t *testing.T) {
	s := scsmem.NewWithCleanupInterval(0)
	defer s.StopCleanup()
	if n := logoutRacesSCS(t, s, 20); n != 20 {
		t.Fatalf("SCS memstore resurrected %d of 20 sessions, want all: the harness does not reproduce the race", n)
	}
}

// logoutRacesSCS runs reps logout races through SCS over store.
func logoutRacesSCS(t *testing.T, store scs.Store, reps int) int {
	return logoutRaces(t, newSCSApp(store), reps)
}
