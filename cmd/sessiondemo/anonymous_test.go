package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storedSessions counts the live sessions in the demo's store.
func storedSessions(t *testing.T, s Store) int {
	t.Helper()
	n := 0
	for _, err := range s.Sessions(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestAnonymousVisitorsNotStored: a visitor who has not done anything yet
// (no sign-in, no count) costs no stored session, with either framework,
// whatever pages it loads; a flood of such visits leaves the store empty.
func TestAnonymousVisitorsNotStored(t *testing.T) {
	for _, sc := range []struct{ store, framework string }{
		{"memory", "scs"}, {"memory", "gorilla"}, {"sqlite", "scs"}, {"sqlite", "gorilla"},
	} {
		t.Run(sc.store+"-"+sc.framework, func(t *testing.T) {
			var store Store
			cfg := config{addr: "127.0.0.1:0", store: sc.store, framework: sc.framework, key: testKey,
				opened: func(s Store) { store = s }}
			if sc.store == "sqlite" {
				cfg.dsn = filepath.Join(t.TempDir(), "demo.db")
			}
			demo := startDemo(t, cfg)
			for range 20 {
				jar, _ := cookiejar.New(nil)
				c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
				for _, path := range []string{"/", "/", "/sessions", "/healthz"} {
					res, err := c.Get(demo.url + path)
					if err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						t.Fatalf("GET %s: %s", path, res.Status)
					}
				}
				c.CloseIdleConnections()
			}
			if n := storedSessions(t, store); n != 0 {
				t.Fatalf("20 anonymous visitors left %d stored sessions, want 0", n)
			}
			// Signing in is doing something: now there is one session, and
			// the sign-in form needs no session to be posted.
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			res, err := c.PostForm(demo.url+"/signin", url.Values{"name": {"alice"}})
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("sign-in: %s", res.Status)
			}
			if n := storedSessions(t, store); n != 1 {
				t.Fatalf("after one sign-in the store holds %d sessions, want 1", n)
			}
			if n, err := store.CountUserSessions(context.Background(), "alice"); err != nil || n != 1 {
				t.Fatalf("CountUserSessions(alice) = %d, %v; want 1", n, err)
			}
			c.CloseIdleConnections()
		})
	}
}

// TestCrossSitePostRefused: a post another site makes the browser send is
// refused, the sign-in form's included (it has no session to hold a CSRF
// token).
func TestCrossSitePostRefused(t *testing.T) {
	demo := startDemo(t, config{addr: "127.0.0.1:0", store: "memory", framework: "scs"})
	req, _ := http.NewRequest("POST", demo.url+"/signin", strings.NewReader("name=mallory"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-in post: %s, want 403", res.Status)
	}
}
