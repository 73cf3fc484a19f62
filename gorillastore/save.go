package gorillastore

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore"
)

// handle is the sessions.Store of every session that New returns: the store
// itself (Get, New and Save are the store's), plus what the store knows of
// this session, which no caller can set. A handler can change IsNew and ID,
// and copy the Session; it cannot make a handle, so Save decides how to
// write from the handle, never from IsNew: a session whose handle has
// stored == ID is saved by an update of the live row, never by an insert.
// A copy of the Session shares its handle, and so is treated alike.
//
// Session.Store() therefore returns this handle rather than the *PGStore or
// *Store; it is a sessions.Store whose methods are the store's.
type handle struct {
	sessions.Store // the PGStore or Store that made the session
	e              *engine

	mu sync.Mutex
	// stored is the ID of the row this session was loaded from, or that a
	// Save inserted or deleted; "" if none.
	stored string
}

// storedID returns the ID of the row the session of h was loaded from or
// saved to.
func (h *handle) storedID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stored
}

// setStored records that the row of id was written or deleted.
func (h *handle) setStored(id string) {
	h.mu.Lock()
	h.stored = id
	h.mu.Unlock()
}

// handleOf returns the handle of s if e made it, or nil.
func (e *engine) handleOf(s *sessions.Session) *handle {
	if h, ok := s.Store().(*handle); ok && h.e == e {
		return h
	}
	return nil
}

// save implements sessions.Store.Save.
//
// A session that this store loaded (or already saved) is written by
// updating its row only, where the backend is a CtxUpdater: if the row is
// gone (deleted by a logout, or expired), nothing is written, no cookie is
// set and save returns nil, the answer of a Commit after a Delete in the
// store contract. Setting no cookie matters: the response to the logout
// cleared it, and the client may have signed in again since, under the same
// cookie name. Any other session is committed with the backend's tombstone
// check.
func (e *engine) save(codecs []securecookie.Codec, opts *sessions.Options, r *http.Request, w http.ResponseWriter, s *sessions.Session) error {
	if s.Options == nil {
		o := *opts
		s.Options = &o
	}
	h := e.handleOf(s)
	ctx := r.Context()
	if s.Options.MaxAge < 0 {
		if validID(s.ID) {
			e.touch.Forget(token(s.ID))
			if err := e.backend.DeleteCtx(ctx, token(s.ID)); err != nil {
				return fmt.Errorf("gorillastore: delete session: %w", err)
			}
			if h != nil {
				h.setStored(s.ID) // a later Save of this session finds no row
			}
		}
		http.SetCookie(w, sessions.NewCookie(s.Name(), "", s.Options))
		return nil
	}
	if !validID(s.ID) {
		s.ID = newID()
	}
	data, err := encodeValues(s.Values)
	if err != nil {
		return fmt.Errorf("gorillastore: save session: %w", err)
	}
	if err := sessionstore.CheckSize(data, int(e.maxLength.Load())); err != nil {
		return fmt.Errorf("gorillastore: save session %q: %w", s.Name(), err)
	}
	expiry, err := e.expiry(s.Options.MaxAge)
	if err != nil {
		return fmt.Errorf("gorillastore: save session %q: %w", s.Name(), err)
	}
	cookie, err := securecookie.EncodeMulti(s.Name(), []byte(s.ID), codecs...)
	if err != nil {
		return fmt.Errorf("gorillastore: save session: encode cookie: %w", err)
	}
	if e.recordClient {
		ctx = withRequestClient(ctx, r)
	}
	tok := token(s.ID)
	loaded := h != nil && h.storedID() == s.ID
	switch {
	case loaded && ctx.Err() == nil && e.touch.Skip(tok, data, expiry, e.now()):
		// Config.TouchWindow: the store holds this data until within the
		// window of expiry; only the cookie is sent again. (A cancelled
		// request's Save fails as without the option.)
	case loaded && e.updater != nil:
		updated, err := e.updater.UpdateCtx(ctx, tok, data, expiry)
		if err != nil {
			e.touch.Forget(tok)
			return fmt.Errorf("gorillastore: save session: %w", err)
		}
		if !updated {
			e.touch.Forget(tok)
			return nil // deleted or expired since: it stays gone
		}
		e.touch.Saw(tok, data, expiry)
	default:
		if err := e.backend.CommitCtx(ctx, tok, data, expiry); err != nil {
			e.touch.Forget(tok)
			return fmt.Errorf("gorillastore: save session: %w", err)
		}
		// A Commit the backend's tombstone blocked also returns nil: the
		// view then holds a session the backend does not, and a later
		// Save within the window writes nothing, which is what the
		// blocked Commit wrote.
		e.touch.Saw(tok, data, expiry)
		if h != nil {
			h.setStored(s.ID)
		}
	}
	http.SetCookie(w, sessions.NewCookie(s.Name(), cookie, s.Options))
	return nil
}

// withRequestClient returns ctx carrying the User-Agent and remote IP of r
// (Config.RecordClient), unless it carries a client already.
func withRequestClient(ctx context.Context, r *http.Request) context.Context {
	if _, ok := sessionstore.ClientFromContext(ctx); ok {
		return ctx
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return sessionstore.WithClient(ctx, sessionstore.Client{UserAgent: r.UserAgent(), IP: ip})
}

// maxMaxAge is the largest Options.MaxAge, in seconds, that a time.Duration
// holds (about 292 years).
const maxMaxAge = math.MaxInt64 / int64(time.Second)

// checkMaxAge returns an error matching sessionstore.ErrExpiryOutOfRange if
// a session with Options.MaxAge maxAge could never be stored.
func checkMaxAge(maxAge int) error {
	if int64(maxAge) > maxMaxAge {
		return fmt.Errorf("%w: Options.MaxAge %d s is over %d s (about 292 years), the longest time.Duration",
			sessionstore.ErrExpiryOutOfRange, maxAge, maxMaxAge)
	}
	return nil
}

// expiry returns the server-side expiry of a session saved now with
// Options.MaxAge maxAge (>= 0), or an error matching
// sessionstore.ErrExpiryOutOfRange if it lies outside
// [sessionstore.MinExpiry, sessionstore.MaxExpiry].
func (e *engine) expiry(maxAge int) (time.Time, error) {
	lifetime := e.lifetime
	if maxAge > 0 {
		if err := checkMaxAge(maxAge); err != nil {
			return time.Time{}, err
		}
		lifetime = time.Duration(maxAge) * time.Second
	}
	t := e.now().Add(lifetime)
	if err := sessionstore.CheckExpiry(t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}
