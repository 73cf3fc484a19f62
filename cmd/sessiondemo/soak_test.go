package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	csrfRE  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	countRE = regexp.MustCompile(`id="count">(\d+)<`)
)

// soakClient is one user with its own cookie jar, driving the demo with
// plain HTTP requests: sign in, count, sign out.
type soakClient struct {
	base string
	http *http.Client
	csrf string
}

// newSoakClient returns a client with a transport of its own: with the
// shared http.DefaultTransport, one client's CloseIdleConnections could
// close a connection another client is about to reuse, failing its request
// ("CloseIdleConnections called").
func newSoakClient(base string) *soakClient {
	jar, _ := cookiejar.New(nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &soakClient{base: base, http: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}}
}

// get fetches a page and remembers its CSRF token.
func (c *soakClient) get(path string) (string, error) {
	res, err := c.http.Get(c.base + path)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, res.Status)
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		c.csrf = string(m[1])
	}
	return string(body), nil
}

// post submits a form with the CSRF token and follows the redirect.
func (c *soakClient) post(path string, form url.Values) (string, error) {
	form.Set("csrf", c.csrf)
	res, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST %s: %s: %s", path, res.Status, body)
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		c.csrf = string(m[1])
	}
	return string(body), nil
}

// session signs in, counts n times, checks the count and signs out.
func (c *soakClient) session(name string, n int) error {
	if _, err := c.get("/"); err != nil {
		return err
	}
	if _, err := c.post("/signin", url.Values{"name": {name}}); err != nil {
		return err
	}
	var page string
	for range n {
		var err error
		if page, err = c.post("/count", url.Values{}); err != nil {
			return err
		}
	}
	m := countRE.FindStringSubmatch(page)
	if m == nil {
		return fmt.Errorf("%s: no count on the page after counting", name)
	}
	if got, _ := strconv.Atoi(m[1]); got != n {
		return fmt.Errorf("%s: count is %d after %d clicks: an update was lost", name, got, n)
	}
	if _, err := c.post("/signout", url.Values{}); err != nil {
		return err
	}
	return nil
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestSoak runs concurrent clients against the demo for SOAK_DURATION (10s
// by default; make soak runs it longer) and checks that no client's count
// is off, that the heap stays flat and that no goroutine is left growing.
// soakLifetime is the session lifetime during the soak: long enough for
// one client's visit, short enough that sessions expire during the soak.
const soakLifetime = 5 * time.Second

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("load soak")
	}
	duration := 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("SOAK_DURATION")); err == nil {
		duration = d
	}
	for _, sc := range soakStores(t) {
		t.Run(sc.name, func(t *testing.T) {
			// Sessions that last seconds, and cleanup every second, so
			// that the store reaches a steady state within the soak: a
			// flat heap then says that expired sessions and tombstones
			// are really removed, not only that little time passed.
			cfg := sc.cfg
			cfg.lifetime, cfg.cleanup = soakLifetime, time.Second
			var store Store
			cfg.opened = func(s Store) { store = s }
			demo := startDemo(t, cfg)
			const clients, counts = 16, 10
			var (
				mu       sync.Mutex
				sessions int
				heaps    []uint64
				users    []string
			)
			goroutinesBefore := 0 // after the first round: the store's pool is warm by then
			ctx, cancel := context.WithTimeout(context.Background(), duration)
			defer cancel()
			round := func() error {
				var wg sync.WaitGroup
				errs := make(chan error, clients)
				for i := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c := newSoakClient(demo.url)
						defer c.http.CloseIdleConnections()
						name := fmt.Sprintf("soak-%d-%d", i, time.Now().UnixNano())
						if err := c.session(name, counts); err != nil {
							errs <- err
						}
						mu.Lock()
						users = append(users, name)
						mu.Unlock()
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					return err
				}
				mu.Lock()
				sessions += clients
				mu.Unlock()
				return nil
			}
			for ctx.Err() == nil || len(heaps) < 3 {
				if err := round(); err != nil {
					t.Fatal(err)
				}
				heaps = append(heaps, heapInUse())
				if goroutinesBefore == 0 {
					goroutinesBefore = runtime.NumGoroutine()
				}
			}
			// Flat: the heap after warm-up grows by less than 16 MiB whatever
			// the duration. Each client leaves two tombstones behind (its
			// sign-in's RenewToken and its sign-out), gone a lifetime and a
			// cleanup interval later; the pages it loads while signed out
			// store nothing.
			warm, last := heaps[1], heaps[len(heaps)-1]
			if last > warm+16<<20 {
				t.Errorf("heap grew from %d to %d bytes over %d sessions", warm, last, sessions)
			}
			// Every client signed out: no index entry outlives its session,
			// and none is left over from the sessions that expired or were
			// renewed at sign-in.
			for _, user := range users {
				if n, err := store.CountUserSessions(context.Background(), user); err != nil || n != 0 {
					t.Fatalf("after %s signed out, the index counts %d of its sessions (%v)", user, n, err)
				}
			}
			if n := storedSessions(t, store); n > 0 {
				t.Logf("%d sessions stored after the soak (signed-out visitors' flash messages)", n)
			}
			time.Sleep(100 * time.Millisecond)
			if after := runtime.NumGoroutine(); after > goroutinesBefore+10 {
				t.Errorf("goroutines grew from %d to %d", goroutinesBefore, after)
			}
			t.Logf("%s: %d sessions of %d counts each by %d concurrent clients in %v; heap %d -> %d bytes",
				sc.name, sessions, counts, clients, duration, warm, last)
		})
	}
}
