package hardening

import (
	"context"
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
// gone by then, and the session would come back signed in. SCS computes
// expiries with time.Now, so this test waits for real.
func TestLogoutAfterOldExpirySCS(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			const reps = 2
			store := b.open(t)
			app := newSCSApp(store, func(sm *scs.SessionManager) {
				sm.IdleTimeout = idleTimeout
				sm.Lifetime = time.Hour
			})
			app.afterSignOut = func(t *testing.T) {
				time.Sleep(idleTimeout + 500*time.Millisecond) // past the old expiry
				d, ok := store.(interface {
					DeleteExpired(context.Context) (int64, error)
				})
				if !ok {
					t.Fatalf("%s has no DeleteExpired", b.name)
				}
				if _, err := d.DeleteExpired(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if n := logoutRaces(t, app, reps); n > 0 {
				t.Fatalf("%s: %d of %d sessions came back after sign-out: a request that ended after the old expiry undid the logout", b.name, n, reps)
			}
		})
	}
}
