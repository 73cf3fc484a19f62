package pgstore

// The scenarios of SCS's own pgxstore tests, run against this store on the
// same default table: an application switching its import keeps working.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
)

// scsPool returns a pool on a fresh schema holding SCS's sessions table.
func scsPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := newSchemaPool(t)
	if _, err := pool.Exec(context.Background(), scsSchema); err != nil {
		t.Fatal(err)
	}
	return pool
}

func TestSCSFind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	if _, err := pool.Exec(ctx, "INSERT INTO sessions VALUES('session_token', 'encoded_data', current_timestamp + interval '1 minute')"); err != nil {
		t.Fatal(err)
	}
	p := NewWithCleanupInterval(pool, 0)
	b, found, err := p.FindCtx(ctx, "session_token")
	if err != nil || !found || !bytes.Equal(b, []byte("encoded_data")) {
		t.Fatalf("FindCtx = %q, %v, %v; want encoded_data, true, nil", b, found, err)
	}
}

func TestSCSFindMissing(t *testing.T) {
	t.Parallel()
	p := NewWithCleanupInterval(scsPool(t), 0)
	_, found, err := p.FindCtx(context.Background(), "missing_session_token")
	if err != nil || found {
		t.Fatalf("FindCtx = %v, %v; want false, nil", found, err)
	}
}

func TestSCSSaveNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	p := NewWithCleanupInterval(pool, 0)
	if err := p.CommitCtx(ctx, "session_token", []byte("encoded_data"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := pool.QueryRow(ctx, "SELECT data FROM sessions WHERE token = 'session_token'").Scan(&data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, []byte("encoded_data")) {
		t.Fatalf("got %q, want encoded_data", data)
	}
}

func TestSCSSaveUpdated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	if _, err := pool.Exec(ctx, "INSERT INTO sessions VALUES('session_token', 'encoded_data', current_timestamp + interval '1 minute')"); err != nil {
		t.Fatal(err)
	}
	p := NewWithCleanupInterval(pool, 0)
	if err := p.CommitCtx(ctx, "session_token", []byte("new_encoded_data"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := pool.QueryRow(ctx, "SELECT data FROM sessions WHERE token = 'session_token'").Scan(&data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, []byte("new_encoded_data")) {
		t.Fatalf("got %q, want new_encoded_data", data)
	}
}

func TestSCSExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := NewWithCleanupInterval(scsPool(t), 10*time.Millisecond)
	defer p.StopCleanup()
	if err := p.CommitCtx(ctx, "session_token", []byte("encoded_data"), time.Now().Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := p.FindCtx(ctx, "session_token"); !found || err != nil {
		t.Fatalf("FindCtx = %v, %v; want true, nil", found, err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, found, err := p.FindCtx(ctx, "session_token"); found || err != nil {
		t.Fatalf("FindCtx after expiry = %v, %v; want false, nil", found, err)
	}
}

func TestSCSDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	if _, err := pool.Exec(ctx, "INSERT INTO sessions VALUES('session_token', 'encoded_data', current_timestamp + interval '1 minute')"); err != nil {
		t.Fatal(err)
	}
	p := NewWithCleanupInterval(pool, 0)
	if err := p.DeleteCtx(ctx, "session_token"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM sessions WHERE token = 'session_token'"); n != 0 {
		t.Fatalf("got %d rows, want 0", n)
	}
	// The drop-in store created its tombstone table on first use.
	if n := count(t, pool, "SELECT count(*) FROM sessions_tombstones WHERE token = 'session_token'"); n != 1 {
		t.Fatalf("got %d tombstones, want 1", n)
	}
}

func TestSCSCleanup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	p := NewWithCleanupInterval(pool, 200*time.Millisecond)
	defer p.StopCleanup()
	if err := p.CommitCtx(ctx, "session_token", []byte("encoded_data"), time.Now().Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM sessions WHERE token = 'session_token'"); n != 1 {
		t.Fatalf("got %d rows, want 1", n)
	}
	// SCS sleeps 300ms for a 200ms interval; ours is jittered by ±20%, so
	// wait for the row to go rather than for a fixed time.
	deadline := time.Now().Add(5 * time.Second)
	for count(t, pool, "SELECT count(*) FROM sessions WHERE token = 'session_token'") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired session not cleaned up after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSCSStopCleanup(t *testing.T) {
	t.Parallel()
	pool := scsPool(t)
	// SCS runs 100 parallel subtests; goroutines give the same overlap
	// without being throttled to GOMAXPROCS subtests at a time.
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := New(pool)
			time.Sleep(100 * time.Millisecond)
			p.StopCleanup()
		}()
	}
	wg.Wait()
}

func TestSCSStopNilCleanup(t *testing.T) {
	t.Parallel()
	p := NewWithCleanupInterval(scsPool(t), 0)
	time.Sleep(100 * time.Millisecond)
	p.StopCleanup() // must not block
}

// TestSCSLogoutOutlivesIdleTimeout is the slow request of an SCS
// application with IdleTimeout 2 s: it loads the session, the user signs
// out, and the request ends after the session's old expiry and after a
// cleanup run. SCS then commits the session it loaded with a new expiry
// (now + IdleTimeout); the user must stay signed out, for whoever holds the
// old cookie. It runs with the defaults, and with a ClockSkew so small that
// only the tombstone lifetime keeps the tombstone through that cleanup run.
func TestSCSLogoutOutlivesIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"Defaults", Config{CleanupInterval: -1}},
		{"NoSkewAllowance", Config{CleanupInterval: -1, ClockSkew: time.Millisecond}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			scsSlowRequestAtLogout(t, newTestStore(t, c.cfg))
		})
	}
}

// scsSlowRequestAtLogout is TestSCSLogoutOutlivesIdleTimeout on store.
func scsSlowRequestAtLogout(t *testing.T, store *PostgresStore) {
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = 2 * time.Second
	loaded, finish := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			t.Error(err)
		}
		sm.Put(r.Context(), "user", "alice")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		_ = sm.GetString(r.Context(), "user")
		close(loaded)
		<-finish
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sm.GetString(r.Context(), "user"))
	})
	srv := httptest.NewServer(sm.LoadAndSave(mux))
	defer srv.Close()

	get := func(path string, cookie *http.Cookie) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(body)
	}
	res, _ := get("/login", nil)
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == sm.Cookie.Name {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie after login")
	}
	if _, who := get("/whoami", cookie); who != "alice" {
		t.Fatalf("whoami after login = %q, want alice", who)
	}
	slow := make(chan struct{})
	go func() {
		defer close(slow)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/slow", nil)
		req.AddCookie(cookie)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		res.Body.Close()
	}()
	<-loaded
	get("/logout", cookie)
	time.Sleep(sm.IdleTimeout + 500*time.Millisecond) // past the session's old expiry
	if _, err := store.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(finish)
	<-slow // its Commit carried now + IdleTimeout
	if _, who := get("/whoami", cookie); who != "" {
		t.Fatalf("whoami with the old cookie after logout and a late Commit = %q, want signed out", who)
	}
	if _, found, err := store.Find(cookie.Value); found || err != nil {
		t.Fatalf("Find(old token) = %v, %v; want not found", found, err)
	}
}
