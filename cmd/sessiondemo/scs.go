package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore"
)

// scsSessions serves the demo's sessions through an scs.SessionManager.
type scsSessions struct {
	sm    *scs.SessionManager
	store Store
}

// newSCS keeps sessions for 30 days, 7 idle, unless lifetime is not zero.
func newSCS(store Store, secure bool, lifetime time.Duration, log *slog.Logger) *scsSessions {
	sm := scs.New()
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		log.Error("session", "path", r.URL.Path, "err", err)
		http.Error(w, "session error; please try again", http.StatusInternalServerError)
	}
	sm.Store = store
	sm.Lifetime = 30 * 24 * time.Hour
	sm.IdleTimeout = 7 * 24 * time.Hour
	if lifetime != 0 {
		sm.Lifetime, sm.IdleTimeout = lifetime, 0
	}
	sm.Cookie.Name = "demo_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = secure
	return &scsSessions{sm: sm, store: store}
}

// Wrap loads and saves the session around next, and records the request's
// user agent and IP for the devices page (sessionstore.RecordClient runs
// outside LoadAndSave, whose Commit gets the request's context).
func (s *scsSessions) Wrap(next http.Handler) http.Handler {
	return sessionstore.RecordClient(s.sm.LoadAndSave(next))
}

func (s *scsSessions) GetString(r *http.Request, key string) string {
	return s.sm.GetString(r.Context(), key)
}

func (s *scsSessions) GetInt(r *http.Request, key string) int { return s.sm.GetInt(r.Context(), key) }

func (s *scsSessions) GetTime(r *http.Request, key string) time.Time {
	return s.sm.GetTime(r.Context(), key)
}

func (s *scsSessions) Put(_ http.ResponseWriter, r *http.Request, key string, value any) {
	s.sm.Put(r.Context(), key, value)
}

func (s *scsSessions) PopString(_ http.ResponseWriter, r *http.Request, key string) string {
	return s.sm.PopString(r.Context(), key)
}

func (s *scsSessions) Renew(_ http.ResponseWriter, r *http.Request) error {
	return s.sm.RenewToken(r.Context())
}

func (s *scsSessions) Destroy(_ http.ResponseWriter, r *http.Request) error {
	return s.sm.Destroy(r.Context())
}

// Index is the store's: SCS keeps sessions under their own tokens.
func (s *scsSessions) Index() sessionstore.UserIndex { return s.store }

func (s *scsSessions) Current(r *http.Request) (id, keep string) {
	tok := s.sm.Token(r.Context())
	if tok == "" {
		return "", ""
	}
	return sessionstore.SessionID(tok), tok
}
