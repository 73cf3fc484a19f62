package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/sessions"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/gorillastore"
)

// gorillaSessions serves the demo's sessions through gorilla/sessions, with
// gorillastore's adapter over the demo's store.
type gorillaSessions struct {
	store *gorillastore.Store
	back  Store
	log   *slog.Logger
}

const gorillaCookie = "demo_session"

// requestState is what one request knows about its session.
type requestState struct {
	session *sessions.Session
	dirty   bool
	saved   bool
}

type stateKey struct{}

// newGorilla signs cookies with key, or with a key for this run only if key
// is shorter than 32 bytes: sessions then end when the demo restarts. They
// last 7 days, unless lifetime is not zero.
func newGorilla(back Store, key []byte, lifetime time.Duration, log *slog.Logger) (*gorillaSessions, error) {
	if len(key) < 32 {
		log.Warn("no -key (DEMO_SESSION_KEY) of 32 bytes or more: gorilla sessions will not survive a restart")
		key = make([]byte, 32)
		rand.Read(key)
	}
	// RecordClient: the devices page shows each session's browser and IP.
	store, err := gorillastore.NewWithConfig(back, gorillastore.Config{KeyPairs: [][]byte{key}, RecordClient: true})
	if err != nil {
		return nil, err
	}
	store.Options.HttpOnly = true
	store.Options.SameSite = http.SameSiteLaxMode
	maxAge := 7 * 24 * 3600
	if lifetime != 0 {
		maxAge = max(int(lifetime/time.Second), 1)
	}
	store.MaxAge(maxAge)
	return &gorillaSessions{store: store, back: back, log: log}, nil
}

// Wrap loads the session and saves it, if it changed, before the response
// starts: gorilla writes the cookie in a header.
func (g *gorillaSessions) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := g.store.Get(r, gorillaCookie)
		if err != nil {
			g.log.Warn("session load", "err", err) // a fresh session stands in
		}
		st := &requestState{session: s}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		sw := &savingWriter{ResponseWriter: w, save: func() { g.save(w, r, st) }}
		next.ServeHTTP(sw, r)
		sw.saveOnce()
	})
}

func (g *gorillaSessions) save(w http.ResponseWriter, r *http.Request, st *requestState) {
	if !st.dirty || st.saved {
		return
	}
	st.saved = true
	if err := st.session.Save(r, w); err != nil {
		g.log.Error("session save", "err", err)
	}
}

// savingWriter saves the session just before the first byte of the response.
type savingWriter struct {
	http.ResponseWriter
	save    func()
	written bool
}

func (w *savingWriter) saveOnce() {
	if !w.written {
		w.written = true
		w.save()
	}
}

func (w *savingWriter) WriteHeader(code int) { w.saveOnce(); w.ResponseWriter.WriteHeader(code) }

func (w *savingWriter) Write(b []byte) (int, error) { w.saveOnce(); return w.ResponseWriter.Write(b) }

func state(r *http.Request) *requestState { return r.Context().Value(stateKey{}).(*requestState) }

func (g *gorillaSessions) GetString(r *http.Request, key string) string {
	v, _ := state(r).session.Values[key].(string)
	return v
}

func (g *gorillaSessions) GetInt(r *http.Request, key string) int {
	v, _ := state(r).session.Values[key].(int)
	return v
}

func (g *gorillaSessions) GetTime(r *http.Request, key string) time.Time {
	v, _ := state(r).session.Values[key].(time.Time)
	return v
}

func (g *gorillaSessions) Put(_ http.ResponseWriter, r *http.Request, key string, value any) {
	st := state(r)
	st.session.Values[key] = value
	st.dirty = true
}

func (g *gorillaSessions) PopString(_ http.ResponseWriter, r *http.Request, key string) string {
	st := state(r)
	v, ok := st.session.Values[key].(string)
	if ok {
		delete(st.session.Values, key)
		st.dirty = true
	}
	return v
}

// Renew moves the session to a new ID: the old one is deleted (and
// tombstoned), and the next save issues a fresh ID and cookie.
func (g *gorillaSessions) Renew(_ http.ResponseWriter, r *http.Request) error {
	st := state(r)
	if !st.session.IsNew {
		if err := g.back.DeleteCtx(r.Context(), gorillastore.StoreToken(st.session.ID)); err != nil {
			return fmt.Errorf("renew: %w", err)
		}
	}
	st.session.ID = ""
	st.session.IsNew = true
	st.dirty = true
	return nil
}

func (g *gorillaSessions) Destroy(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	st.session.Options.MaxAge = -1
	clear(st.session.Values)
	st.dirty = true
	return nil
}

// Index is the adapter's: it names sessions by their gorilla session IDs.
func (g *gorillaSessions) Index() sessionstore.UserIndex { return g.store }

func (g *gorillaSessions) Current(r *http.Request) (id, keep string) {
	st := state(r)
	if st.session.IsNew || st.session.ID == "" {
		return "", ""
	}
	return g.store.SessionID(st.session), st.session.ID
}
