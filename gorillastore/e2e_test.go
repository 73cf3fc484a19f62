package gorillastore

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
)

// TestEndToEnd drives a PGStore through a real HTTP server and a client with
// a cookie jar: visits count up, logout ends the session, and the next visit
// starts a new one.
func TestEndToEnd(t *testing.T) {
	s := newTestPGStore(t, testPool(t), PGConfig{})
	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		session, err := s.Get(r, "sid")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, _ := session.Values["visits"].(int)
		session.Values["visits"] = n + 1
		if err := sessionsSave(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		session, err := s.Get(r, "sid")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		session.Options.MaxAge = -1
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	defer client.CloseIdleConnections()

	get := func(path string) string {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", path, resp.Status, b)
		}
		return string(b)
	}
	for want := 1; want <= 3; want++ {
		if got := get("/visit"); got != fmt.Sprint(want) {
			t.Fatalf("visit %d: body %q", want, got)
		}
	}
	get("/logout")
	if n := len(jar.Cookies(mustURL(t, srv.URL))); n != 0 {
		t.Errorf("the browser kept %d cookies after logout", n)
	}
	if got := get("/visit"); got != "1" {
		t.Errorf("first visit after logout: %q, want a new session", got)
	}
}
