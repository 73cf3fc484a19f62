package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// Manager is what slowRequestLogout uses of an SCS session manager
// (*scs.SessionManager); the root module does not depend on SCS.
type Manager interface {
	LoadAndSave(next http.Handler) http.Handler
	Put(ctx context.Context, key string, val any)
	GetString(ctx context.Context, key string) string
	Destroy(ctx context.Context) error
}

// slowRequestLogout is issue 12's first attack, through SCS on the real
// clock: with IdleTimeout 2 s a slow request loads the session, the user
// signs out, the old expiry passes, cleanup runs, and the slow request then
// commits with a new expiry (SCS re-commits every request under an idle
// timeout). The user must stay signed out. ClockSkew is 1 ms so that
// cleanup removes whatever tombstone has expired: only the tombstone
// lifetime keeps the logout.
func slowRequestLogout(t *testing.T, d Dialect, db DB) {
	if d.Manager == nil {
		t.Skip("no SCS session manager given")
	}
	const idle = 2 * time.Second
	s := db.NewStore(t, Options{ClockSkew: time.Millisecond})
	m := d.Manager(s, idle)
	loaded, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { m.Put(r.Context(), "user", "alice") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		user := m.GetString(r.Context(), "user")
		loaded <- struct{}{}
		<-release
		io.WriteString(w, user)
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, m.GetString(r.Context(), "user")) })
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	srv := httptest.NewServer(m.LoadAndSave(mux))
	defer srv.Close()
	get := func(path string, cookie *http.Cookie) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return nil, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, _ := get("/login", nil)
	if resp == nil || len(resp.Cookies()) != 1 {
		t.Fatal("login set no session cookie")
	}
	cookie := resp.Cookies()[0]
	slow := make(chan string)
	go func() {
		_, body := get("/slow", cookie)
		slow <- body
	}()
	<-loaded
	get("/logout", cookie)
	time.Sleep(idle + idle/4) // past the deleted session's expiry
	if _, err := s.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(release)
	if body := <-slow; body != "alice" {
		t.Fatalf("the slow request saw user %q, want alice", body)
	}
	if _, body := get("/whoami", cookie); body != "" {
		t.Fatalf("after logout and a slow request's commit, the old cookie is signed in as %q", body)
	}
	if _, ok, err := s.Find(cookie.Value); err != nil || ok {
		t.Fatalf("Find of the logged-out token = %v, %v; want not found", ok, err)
	}
}

// clockAheadCleanup is issue 12's second attack: two replicas share a
// table, one's clock 10 minutes ahead (within the default ClockSkew of 15).
// The one ahead runs cleanup just before the tombstone's lifetime ends by
// the other's clock; the other's late Commit must not bring the session
// back.
func clockAheadCleanup(t *testing.T, _ Dialect, db DB) {
	start := time.Now().Truncate(time.Microsecond)
	onTime, ahead := storetest.NewClock(start), storetest.NewClock(start.Add(10*time.Minute))
	table := freshTable("ca")
	a := db.NewStore(t, Options{Table: table, Now: onTime.Now})
	b := db.NewStore(t, Options{Table: table, Now: ahead.Now})
	const tok = "skewed"
	if err := a.Commit(tok, []byte("signed-in"), onTime.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(tok); err != nil {
		t.Fatal(err)
	}
	// A request on the replica on time that loaded the session before the
	// logout ends just inside the tombstone lifetime.
	onTime.Set(start.Add(sessionstore.DefaultTombstoneLifetime - time.Second))
	ahead.Set(onTime.Now().Add(10 * time.Minute))
	if _, err := b.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(tok, []byte("signed-in"), onTime.Now().Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]SQLStore{"on time": a, "10 minutes ahead": b} {
		if _, ok, err := s.Find(tok); err != nil || ok {
			t.Errorf("replica %s: Find after cleanup ahead and a late Commit = %v, %v; want not found", name, ok, err)
		}
	}
}

// freshTable returns a table name no other test uses.
func freshTable(prefix string) string {
	b := make([]byte, 5)
	rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}
