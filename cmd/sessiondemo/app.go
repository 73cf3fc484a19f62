package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"html/template"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionstore/sessionstore"
)

//go:embed templates/*.html
var templateFS embed.FS

func init() {
	gob.Register(time.Time{}) // the session value "signedIn", for both frameworks' gob codecs
}

// Store is what the demo needs of a session store: the SCS methods and
// streaming iteration, for the "your sessions" page.
type Store interface {
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error]
}

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
	// StoreToken is the token the session is stored under ("" if none yet).
	StoreToken(r *http.Request) string
	// Decode reads the values of a stored session.
	Decode(data []byte) (map[string]any, error)
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
	mux.HandleFunc("POST /signin", a.csrf(a.signIn))
	mux.HandleFunc("POST /count", a.signedIn(a.csrf(a.count)))
	mux.HandleFunc("GET /sessions", a.signedIn(a.listSessions))
	mux.HandleFunc("POST /sessions/revoke", a.signedIn(a.csrf(a.revoke)))
	mux.HandleFunc("POST /signout-everywhere", a.signedIn(a.csrf(a.signOutEverywhere)))
	mux.HandleFunc("POST /signout", a.csrf(a.signOut))
	sessionPages := a.sessions.Wrap(noStore(mux))

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", a.healthz)
	root.Handle("/", sessionPages)
	return a.logRequests(root)
}

// page is the data every template gets.
type page struct {
	Title, User, Flash, CSRF, Store, Framework string
	Count                                      int
	Sessions                                   []sessionRow
}

func (a *app) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	p.User = a.sessions.GetString(r, "user")
	p.Flash = a.sessions.PopString(w, r, "flash")
	p.CSRF = a.csrfToken(w, r)
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
	a.sessions.Put(w, r, "user", name)
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

// sessionRow is one of the user's sessions on the sessions page. ID is a
// digest of the token: the page never shows a usable token.
type sessionRow struct {
	ID       string
	Current  bool
	SignedIn time.Time
	Count    int
	Expiry   time.Time
	token    string
}

// userSessions streams the store's sessions and keeps the user's.
func (a *app) userSessions(r *http.Request) ([]sessionRow, error) {
	user, current := a.sessions.GetString(r, "user"), a.sessions.StoreToken(r)
	var rows []sessionRow
	for s, err := range a.store.Sessions(r.Context()) {
		if err != nil {
			return nil, err
		}
		values, err := a.sessions.Decode(s.Data)
		if err != nil || values["user"] != user {
			continue
		}
		row := sessionRow{ID: digest(s.Token), Current: s.Token == current, Expiry: s.Expiry, token: s.Token}
		row.SignedIn, _ = values["signedIn"].(time.Time)
		row.Count, _ = values["count"].(int)
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(x, y sessionRow) int { return y.SignedIn.Compare(x.SignedIn) })
	return rows, nil
}

func (a *app) listSessions(w http.ResponseWriter, r *http.Request) {
	rows, err := a.userSessions(r)
	if err != nil {
		a.fail(w, "list sessions", err)
		return
	}
	a.render(w, r, "sessions", page{Title: "Sessions", Sessions: rows})
}

func (a *app) revoke(w http.ResponseWriter, r *http.Request) {
	rows, err := a.userSessions(r)
	if err != nil {
		a.fail(w, "list sessions", err)
		return
	}
	for _, row := range rows {
		if row.ID == r.PostFormValue("id") && !row.Current {
			if err := a.store.DeleteCtx(r.Context(), row.token); err != nil {
				a.fail(w, "revoke", err)
				return
			}
			a.sessions.Put(w, r, "flash", "Signed out that device.")
		}
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

func (a *app) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	rows, err := a.userSessions(r)
	if err != nil {
		a.fail(w, "list sessions", err)
		return
	}
	for _, row := range rows {
		if !row.Current {
			if err := a.store.DeleteCtx(r.Context(), row.token); err != nil {
				a.fail(w, "sign out everywhere", err)
				return
			}
		}
	}
	a.signOut(w, r)
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
		if a.sessions.GetString(r, "user") == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		next(w, r)
	}
}

// csrf rejects a form post whose token is not the session's. With the
// SameSite=Lax cookie, this keeps other sites from posting as the user.
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

// csrfToken returns the session's CSRF token, creating it on first use.
func (a *app) csrfToken(w http.ResponseWriter, r *http.Request) string {
	tok := a.sessions.GetString(r, "csrf")
	if tok == "" {
		tok = newCSRF()
		a.sessions.Put(w, r, "csrf", tok)
	}
	return tok
}

func newCSRF() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
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
