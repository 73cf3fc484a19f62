package redisstore

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/gorillastore/gorillatest"
)

// gorilla/sessions on Redis through gorillastore's adapter. The test lives
// here rather than in gorillastore, so that gorillastore's go.mod never
// pulls in go-redis.

func TestGorillaSingle(t *testing.T) {
	gorillatest.RunAdapter(t, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		return newStore(t, single(t), Config{Now: now})
	})
}

func TestGorillaCluster(t *testing.T) {
	gorillatest.RunAdapter(t, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		return newStore(t, clusterC(t), Config{Now: now})
	})
}

// TestGorillaExample is the two-line setup of the documentation, end to
// end: a session saved through the adapter is in Redis under the digest of
// its ID, and is loaded from its cookie.
func TestGorillaExample(t *testing.T) {
	var client redis.UniversalClient = clusterC(t)
	rs := newStore(t, client, Config{})
	gs, err := gorillastore.New(rs, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	sess, err := gs.Get(r, "sid")
	if err != nil {
		t.Fatal(err)
	}
	sess.Values["user"] = "alice"
	w := httptest.NewRecorder()
	if err := gs.Save(r, w, sess); err != nil {
		t.Fatal(err)
	}
	all, err := rs.All()
	if err != nil || len(all) != 1 {
		t.Fatalf("All = %d sessions, %v; want 1", len(all), err)
	}
	r2 := httptest.NewRequest("GET", "/", nil)
	for _, c := range w.Result().Cookies() {
		r2.AddCookie(c)
	}
	got, err := gs.Get(r2, "sid")
	if err != nil || got.IsNew || got.Values["user"] != "alice" {
		t.Fatalf("reloaded session: new %v, values %v, err %v", got.IsNew, got.Values, err)
	}
}
