package hardening

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// idleTimeout is the SCS IdleTimeout of TestLogoutAfterOldExpirySCS: short,
// so that the slow request outlives the deleted session's old expiry.
const idleTimeout = 2 * time.Second

// TestLogoutAfterOldExpirySCS is the logout race in the shape a fixed
// tombstone expiry loses: SCS with IdleTimeout, a slow request that loaded
// the session before the sign-out and ends after the deleted session's old
// expiry and after a cleanup run. Its Commit carries a new expiry (now +
// IdleTimeout), so a tombstone that lasted only until the old expiry is
// gone by then, and the session would come back signed in.
func TestLogoutAfterOldExpirySCS(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			const reps = 2
			store := b.open(t)
			app := newSCSIdleApp(store)
			for range reps {
				cookie := app.do(t, "POST", "/signin", nil).Result().Cookies()[0]
				done := make(chan struct{})
				go func() {
					defer close(done)
					app.do(t, "POST", "/slow", cookie)
				}()
				<-app.loaded
				app.do(t, "POST", "/signout", cookie)
				time.Sleep(idleTimeout + 500*time.Millisecond) // past the old expiry
				if d, ok := store.(interface {
					DeleteExpired(context.Context) (int64, error)
				}); ok {
					if _, err := d.DeleteExpired(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				app.release <- struct{}{}
				<-done
				if who := app.do(t, "GET", "/whoami", cookie).Body.String(); who != "" {
					t.Fatalf("%s: signed in as %q after sign-out: a request that ended after the old expiry undid the logout", b.name, who)
				}
				if _, found, err := store.Find(cookie.Value); err != nil || found {
					t.Fatalf("%s: Find after the late commit = found %v, err %v", b.name, found, err)
				}
			}
		})
	}
}

// newSCSIdleApp is newSCSApp with an IdleTimeout, so that every request
// commits the session with a new expiry.
func newSCSIdleApp(store scs.Store) *raceApp {
	a := newRaceApp()
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = idleTimeout
	sm.Lifetime = time.Hour
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
