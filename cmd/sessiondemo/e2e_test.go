package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionstore/sessionstore/internal/testenv"
)

// demoServer is the demo running in this process, restartable on the same store.
type demoServer struct {
	t    *testing.T
	cfg  config
	url  string
	stop func()
}

func startDemo(t *testing.T, cfg config) *demoServer {
	t.Helper()
	d := &demoServer{t: t, cfg: cfg}
	d.start()
	t.Cleanup(d.shutdown)
	return d
}

func (d *demoServer) start() {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	go func() { errc <- run(ctx, d.cfg, log, ready) }()
	select {
	case addr := <-ready:
		d.url = "http://" + addr
	case err := <-errc:
		cancel()
		d.t.Fatalf("demo did not start: %v", err)
	}
	d.stop = func() {
		cancel()
		if err := <-errc; err != nil {
			d.t.Errorf("demo exited with %v", err)
		}
	}
}

func (d *demoServer) shutdown() {
	if d.stop != nil {
		d.stop()
		d.stop = nil
	}
}

// restart stops the server gracefully and starts it again on the same store
// (on another port: cookies do not depend on the port).
func (d *demoServer) restart() {
	d.shutdown()
	d.start()
}

// newDevice starts a headless Chromium with its own profile (its own cookie
// jar, like a separate device) and returns a context for its tab.
func newDevice(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if path, err = exec.LookPath("chromium-browser"); err != nil {
			testenv.Unavailable(t, "Chromium", "install it with `apt-get install chromium`", err)
		}
	}
	// Chromium's helper processes may still write to the profile for a
	// moment after the browser is gone, so t.TempDir's strict RemoveAll
	// would fail the test: remove it ourselves, retrying, after the
	// browser's own cleanup (registered first, so it runs last).
	profile, err := os.MkdirTemp("", "sessiondemo-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the Chromium profile %s", profile)
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

func must(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func signIn(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	must(t, ctx, "sign in",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible("#name", chromedp.ByID),
		chromedp.SendKeys("#name", name, chromedp.ByID),
		chromedp.Click("#signin-button", chromedp.ByID),
		chromedp.WaitVisible("#count", chromedp.ByID),
	)
	var flash string
	must(t, ctx, "read flash", chromedp.Text("#flash", &flash, chromedp.ByID))
	if !strings.Contains(flash, "Welcome, "+name) {
		t.Fatalf("flash after sign-in = %q", flash)
	}
}

func count(t *testing.T, ctx context.Context) string {
	t.Helper()
	var n string
	must(t, ctx, "read count", chromedp.Text("#count", &n, chromedp.ByID))
	return n
}

// clickCount clicks the count button times times, each time waiting for
// the page that the form post leads to.
func clickCount(t *testing.T, ctx context.Context, times int) {
	t.Helper()
	for range times {
		before, err := strconv.Atoi(count(t, ctx))
		if err != nil {
			t.Fatal(err)
		}
		must(t, ctx, "count", chromedp.Click("#count-button", chromedp.ByID))
		want := strconv.Itoa(before + 1)
		waitFor(t, ctx, "count "+want, func(ctx context.Context) bool {
			var got string
			err := chromedp.Run(ctx, chromedp.Text("#count", &got, chromedp.ByID, chromedp.AtLeast(0)))
			return err == nil && got == want
		})
	}
}

// waitFor retries ok, which may fail while the page navigates, until it
// reports true.
func waitFor(t *testing.T, ctx context.Context, what string, ok func(context.Context) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sessionCookie(t *testing.T, ctx context.Context) *network.Cookie {
	t.Helper()
	var cookies []*network.Cookie
	must(t, ctx, "get cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	for _, c := range cookies {
		if c.Name == "demo_session" {
			return c
		}
	}
	return nil
}

// screenshot saves the page when DEMO_SCREENSHOTS names a directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("DEMO_SCREENSHOTS")
	if dir == "" {
		return
	}
	var png []byte
	must(t, ctx, "screenshot", chromedp.EmulateViewport(900, 620), chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	for _, sc := range e2eStores(t) {
		t.Run(sc.name, func(t *testing.T) {
			demo := startDemo(t, sc.cfg)
			name := fmt.Sprintf("user-%s-%d", sc.name, time.Now().UnixNano())

			// Sign in and count on the first device.
			first := newDevice(t)
			signIn(t, first, demo.url, name)
			screenshot(t, first, "home-"+sc.name)
			clickCount(t, first, 3)
			if n := count(t, first); n != "3" {
				t.Fatalf("count = %s, want 3", n)
			}

			if sc.persistent {
				demo.restart()
				must(t, first, "reload after restart", chromedp.Navigate(demo.url+"/"), chromedp.WaitVisible("#count", chromedp.ByID))
				if n := count(t, first); n != "3" {
					t.Fatalf("count after a server restart = %s, want 3", n)
				}
			}

			// A second device signs in and sees both devices, itself marked,
			// with browser, IP and times from the store's index.
			second := newDevice(t)
			signIn(t, second, demo.url, name)
			rows := listDevices(t, second, demo.url)
			if len(rows) != 2 {
				t.Fatalf("sessions page lists %d sessions, want 2: %+v", len(rows), rows)
			}
			if !rows[0].Current || rows[1].Current {
				t.Fatalf("want the current device first (seen last) and marked once: %+v", rows)
			}
			for _, row := range rows {
				if !strings.Contains(row.Browser, "Chrome") || row.IP != "127.0.0.1" || row.Created == "" || row.LastSeen == "" {
					t.Fatalf("device row %+v: want browser, IP 127.0.0.1, created and last seen", row)
				}
			}
			screenshot(t, second, "sessions-"+sc.name)

			// It signs the first device out, by its row's button.
			must(t, second, "sign out the other device",
				chromedp.Click(".revoke-button", chromedp.ByQuery),
				chromedp.WaitVisible("#flash", chromedp.ByID))
			signedOut(t, first, demo.url, "first device after its revoke")
			if rows := listDevices(t, second, demo.url); len(rows) != 1 || !rows[0].Current {
				t.Fatalf("after revoking the other device: %+v", rows)
			}

			// "Sign out other devices" keeps this one.
			signIn(t, first, demo.url, name)
			must(t, second, "sign out other devices",
				chromedp.Navigate(demo.url+"/sessions"),
				chromedp.Click("#signout-others-button", chromedp.ByID),
				chromedp.WaitVisible("#flash", chromedp.ByID))
			signedOut(t, first, demo.url, "first device after sign-out of other devices")
			must(t, second, "second device still signed in",
				chromedp.Navigate(demo.url+"/"), chromedp.WaitVisible("#count", chromedp.ByID))

			// "Sign out everywhere" ends them all.
			signIn(t, first, demo.url, name)
			must(t, second, "sign out everywhere",
				chromedp.Navigate(demo.url+"/sessions"),
				chromedp.Click("#signout-everywhere-button", chromedp.ByID),
				chromedp.WaitVisible("#signin-button", chromedp.ByID))
			signedOut(t, first, demo.url, "first device after sign-out everywhere")

			// A tampered cookie gets a fresh session, never an error page.
			third := newDevice(t)
			signIn(t, third, demo.url, name)
			orig := sessionCookie(t, third)
			if orig == nil {
				t.Fatal("no session cookie after sign-in")
			}
			tampered := flip(orig.Value)
			must(t, third, "tamper with the cookie",
				chromedp.ActionFunc(func(ctx context.Context) error {
					return network.SetCookie(orig.Name, tampered).WithDomain(orig.Domain).WithPath(orig.Path).WithHTTPOnly(true).Do(ctx)
				}),
				chromedp.Navigate(demo.url+"/"),
				chromedp.WaitVisible("#signin-button", chromedp.ByID))
			if c := sessionCookie(t, third); c != nil && c.Value == orig.Value {
				t.Fatalf("after a tampered cookie the browser holds the original session cookie again")
			}
			screenshot(t, third, "signin-"+sc.name)

			// The health check answers.
			res, err := http.Get(demo.url + "/healthz")
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("/healthz: %v %v", res, err)
			}
			res.Body.Close()
		})
	}
}

// deviceRow is one row of the sessions page.
type deviceRow struct {
	Current                            bool
	Browser, IP, Created, LastSeen, ID string
}

// listDevices opens the sessions page and reads its rows.
func listDevices(t *testing.T, ctx context.Context, url string) []deviceRow {
	t.Helper()
	var rows []deviceRow
	must(t, ctx, "list sessions",
		chromedp.Navigate(url+"/sessions"),
		chromedp.WaitVisible("#session-table", chromedp.ByID),
		chromedp.Evaluate(`[...document.querySelectorAll(".session-row")].map(r => ({
			Current: r.classList.contains("current"),
			Browser: r.querySelector(".browser")?.textContent ?? "",
			IP: r.querySelector(".ip")?.textContent ?? "",
			Created: r.querySelector(".created")?.textContent ?? "",
			LastSeen: r.querySelector(".last-seen")?.textContent ?? "",
			ID: r.querySelector("code")?.textContent ?? "",
		}))`, &rows))
	return rows
}

// signedOut checks that the device is back at the sign-in form.
func signedOut(t *testing.T, ctx context.Context, url, what string) {
	t.Helper()
	must(t, ctx, what, chromedp.Navigate(url+"/"), chromedp.WaitVisible("#signin-button", chromedp.ByID))
}

// flip changes one character of a cookie value, keeping it a valid token.
func flip(v string) string {
	b := []byte(v)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
