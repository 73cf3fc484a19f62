package hardening

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore/redisstore"
)

// TestLogoutRaceRedisCrossReplica: two replicas of an application, each
// with its own go-redis client (and connection pool) on the same Redis
// Cluster. The user signs in and out on replica A while a slow request on
// replica B, which loaded the session before the sign-out, commits it
// after. The session must stay gone. In the "BClockAhead" variant B's
// clock runs 10 minutes ahead (inside ClockSkew) and B runs DeleteExpired
// between the sign-out and the late commit.
func TestLogoutRaceRedisCrossReplica(t *testing.T) {
	for _, variant := range []struct {
		name  string
		ahead time.Duration
	}{{"SameClock", 0}, {"BClockAhead", 10 * time.Minute}} {
		t.Run(variant.name, func(t *testing.T) {
			t.Parallel()
			prefix := redisPrefix()
			a := openRedisStore(t, redisCluster(t), prefix, redisstore.Config{})
			b := openRedisStore(t, redisCluster(t), prefix, redisstore.Config{
				Now: func() time.Time { return time.Now().Add(variant.ahead) },
			})
			app := crossReplicaApp(a, b)
			if variant.ahead > 0 {
				app.afterSignOut = func(t *testing.T) {
					if _, err := b.DeleteExpired(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
			}
			const reps = 300
			if n := logoutRaces(t, app, reps); n > 0 {
				t.Fatalf("%d of %d sessions came back after sign-out on the other replica", n, reps)
			}
			t.Logf("%s: 0 resurrections in %d cross-replica logout races", variant.name, reps)
		})
	}
}

// crossReplicaApp serves /slow from replica b and everything else from
// replica a: two SCS session managers, one on each store.
func crossReplicaApp(a, b scs.Store) *raceApp {
	appA, appB := newSCSApp(a), newSCSApp(b)
	app := &raceApp{loaded: appB.loaded, release: appB.release}
	app.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			appB.handler.ServeHTTP(w, r)
			return
		}
		appA.handler.ServeHTTP(w, r)
	})
	return app
}
