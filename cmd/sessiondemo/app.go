package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/gob"
	"fmt"
	"html/template"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessionstore/sessionstore"
)

//go:embed templates/*.html
var templateFS embed.FS

func init() {
	gob.Register(time.Time{}) // the session value "signedIn", for both frameworks' gob codecs
}

// Store is what the demo needs of a session store: the SCS methods,
// streaming iteration (for the soak test's checks) and the per-user index,
// on with the demo's owner key (see openStore).
type Store interface {
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error]
	sessionstore.UserIndex
}

// ownerKey is the session key that holds the signed-in user: the store
// indexes sessions by it.
const ownerKey = "user"

// Sessions is what the demo needs of a session framework (SCS or gorilla).
type Sessions interface {
	// Wrap loads the session before next and saves it after.
	Wrap(next http.Handler) http.Handler
	GetString(r *http.Request, key string) string
	GetInt(r *http.Request, key string) int
	GetTime(r *http.Request, key string) time.Time
	Put(w http.ResponseWriter, r *http.Request, key string, value any)
	PopString(w http.ResponseWriter, r *http.Request, key string) string
	// Renew gives the session a new token, as on every sign-in.
	Renew(w http.ResponseWriter, r *http.Request) error
	// Destroy deletes the session from the store and the cookie.
	Destroy(w http.ResponseWriter, r *http.Request) error
	// Index is the user's sessions, as the framework names them.
	Index() sessionstore.UserIndex
	// Current returns the UserSession.ID of the request's session and what
	// Index().DeleteUserSessionsExcept keeps it by ("" if not stored yet).
	Current(r *http.Request) (id, keep string)
}

type app struct {
	store     Store
	sessions  Sessions
	storeName string
	framework string
	health    func(context.Context) error
	log       *slog.Logger
	tmpl      map[string]*template.Template
}

func newApp(store Store, sessions Sessions, storeName, framework string, health func(context.Context) error, log *slog.Logger) *app {
	a := &app{store: store, sessions: sessions, storeName: storeName, framework: framework, health: health, log: log,
		tmpl: map[string]*template.Template{}}
	for _, page := range []string{"home", "sessions"} {
		a.tmpl[page] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html"))
	}
	return a
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /signin", a.signIn)
	mux.HandleFunc("POST /count", a.signedIn(a.csrf(a.count)))
	mux.HandleFunc("GET /sessions", a.signedIn(a.listSessions))
	mux.HandleFunc("POST /sessions/revoke", a.signedIn(a.csrf(a.revoke)))
	mux.HandleFunc("POST /signout-others", a.signedIn(a.csrf(a.signOutOthers)))
	mux.HandleFunc("POST /signout-everywhere", a.signedIn(a.csrf(a.signOutEverywhere)))
	mux.HandleFunc("POST /signout", a.csrf(a.signOut))
	sessionPages := a.sessions.Wrap(noStore(mux))
	// Browsers say where a post comes from (Sec-Fetch-Site, Origin): refuse
	// cross-site posts, the sign-in form's included, which has no session
	// yet to hold a CSRF token.
	sessionPages = http.NewCrossOriginProtection().Handler(sessionPages)

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", a.healthz)
	root.Handle("/", sessionPages)
	return a.logRequests(root)
}

// page is the data every template gets.
type page struct {
	Title, User, Flash, CSRF, Store, Framework string
	Count                                      int
	Devices                                    []device
}

func (a *app) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	p.User = a.sessions.GetString(r, ownerKey)
	p.Flash = a.sessions.PopString(w, r, "flash")
	p.CSRF = a.csrfToken(r)
	p.Store, p.Framework = a.storeName, a.framework
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := a.tmpl[name].ExecuteTemplate(w, "layout", p); err != nil {
		a.log.Error("render", "page", name, "err", err)
	}
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "home", page{Title: "Home", Count: a.sessions.GetInt(r, "count")})
}

func (a *app) signIn(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 64 {
		http.Error(w, "a name of 1 to 64 characters, please", http.StatusBadRequest)
		return
	}
	// A new token at every sign-in defeats session fixation.
	if err := a.sessions.Renew(w, r); err != nil {
		a.fail(w, "renew", err)
		return
	}
	a.sessions.Put(w, r, ownerKey, name)
	a.sessions.Put(w, r, "signedIn", time.Now().UTC())
	a.sessions.Put(w, r, "csrf", newCSRF())
	a.sessions.Put(w, r, "flash", "Welcome, "+name+"!")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) count(w http.ResponseWriter, r *http.Request) {
	a.sessions.Put(w, r, "count", a.sessions.GetInt(r, "count")+1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Destroy(w, r); err != nil {
		a.fail(w, "destroy", err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// device is one of the user's sessions on the sessions page. ID is the
// index's non-secret session ID: the page never shows a usable token.
type device struct {
	sessionstore.UserSession
	Current bool
	Browser string
}

// devices lists the user's sessions from the store's per-user index: it
// reads the user's own entries, never the other sessions.
func (a *app) devices(r *http.Request) ([]device, error) {
	list, err := a.sessions.Index().UserSessions(r.Context(), a.sessions.GetString(r, ownerKey))
	if err != nil {
		return nil, err
	}
	current, _ := a.sessions.Current(r)
	out := make([]device, len(list))
	for i, us := range list {
		out[i] = device{UserSession: us, Current: us.ID == current, Browser: browser(us.UserAgent)}
	}
	return out, nil
}

func (a *app) listSessions(w http.ResponseWriter, r *http.Request) {
	devices, err := a.devices(r)
	if err != nil {
		a.fail(w, "list sessions", err)
		return
	}
	a.render(w, r, "sessions", page{Title: "Sessions", Devices: devices})
}

// revoke signs out one of the user's other devices. The index deletes only
// a session of this user, so a posted ID cannot reach anyone else's.
func (a *app) revoke(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("id")
	if current, _ := a.sessions.Current(r); id == current {
		http.Redirect(w, r, "/sessions", http.StatusSeeOther)
		return
	}
	ok, err := a.sessions.Index().DeleteUserSession(r.Context(), a.sessions.GetString(r, ownerKey), id)
	if err != nil {
		a.fail(w, "revoke", err)
		return
	}
	if ok {
		a.sessions.Put(w, r, "flash", "Signed out that device.")
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// signOutOthers deletes every other session of the user through the index
// ("sign out everywhere else", as after a password change).
func (a *app) signOutOthers(w http.ResponseWriter, r *http.Request) {
	_, keep := a.sessions.Current(r)
	n, err := a.sessions.Index().DeleteUserSessionsExcept(r.Context(), a.sessions.GetString(r, ownerKey), keep)
	if err != nil {
		a.fail(w, "sign out other devices", err)
		return
	}
	a.sessions.Put(w, r, "flash", fmt.Sprintf("Signed out %d other device(s).", n))
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// signOutEverywhere deletes every session of the user through the index,
// this one included, as when an account is disabled.
func (a *app) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	if _, err := a.sessions.Index().DeleteUserSessions(r.Context(), a.sessions.GetString(r, ownerKey)); err != nil {
		a.fail(w, "sign out everywhere", err)
		return
	}
	a.signOut(w, r)
}

// browser names the browser and system of a user agent, roughly, for the
// devices page ("Firefox on Linux"); "" if it has no user agent.
func browser(ua string) string {
	if ua == "" {
		return ""
	}
	name := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client/", "Go"},
	} {
		if strings.Contains(ua, b.token) {
			name = b.name
			break
		}
	}
	for _, os := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, os.token) {
			return name + " on " + os.name
		}
	}
	return name
}

func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.health(ctx); err != nil {
		a.log.Error("health check failed", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

// signedIn sends visitors who are not signed in to the home page.
func (a *app) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.sessions.GetString(r, ownerKey) == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		next(w, r)
	}
}

// csrf rejects a form post whose token is not the session's. It guards the
// forms of signed-in users (the token is made at sign-in); every form post,
// the sign-in one included, is also checked by http.CrossOriginProtection
// (see routes), so that other sites cannot post as the user.
func (a *app) csrf(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := a.sessions.GetString(r, "csrf")
		got := r.PostFormValue("csrf")
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			http.Error(w, "invalid or missing CSRF token: reload the page and try again", http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

// csrfToken returns the session's CSRF token, or "" for a visitor who has
// not signed in: rendering a page never creates a stored session.
func (a *app) csrfToken(r *http.Request) string {
	return a.sessions.GetString(r, "csrf")
}

func newCSRF() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *app) fail(w http.ResponseWriter, what string, err error) {
	a.log.Error(what, "err", err)
	http.Error(w, "something went wrong; please try again", http.StatusInternalServerError)
}

// noStore keeps browsers and proxies from caching pages that show a session.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		a.log.Debug("request", "method", r.Method, "path", r.URL.Path, "took", time.Since(start))
	})
}
