package gorillastore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore"
)

// CtxStore is the method set of scs.CtxStore that the adapter needs. Every
// store of this repository (memstore, pgstore, gormstore, bunstore) has it,
// and so do the SCS stores.
type CtxStore interface {
	FindCtx(ctx context.Context, token string) (b []byte, found bool, err error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
}

// Defaults of Config.
const (
	// DefaultMaxLength is the default limit, in bytes, of a session's
	// encoded values.
	DefaultMaxLength = 4096
	// DefaultMaxAge is the cookie and session lifetime of a new store: 30
	// days, as in gorilla/sessions.
	DefaultMaxAge = 86400 * 30
	// DefaultBrowserSessionLifetime is how long the server keeps a session
	// whose cookie has Options.MaxAge == 0 (a browser-session cookie) after
	// its last Save.
	DefaultBrowserSessionLifetime = 24 * time.Hour
)

// idBytes is the entropy of a session ID: 256 bits.
const idBytes = 32

// idLen is the length of a session ID: idBytes in unpadded base64url.
var idLen = base64.RawURLEncoding.EncodedLen(idBytes)

// engine is the gorilla/sessions logic PGStore and Store share. It holds no
// per-request state; Get and New only read it.
type engine struct {
	backend   CtxStore
	now       func() time.Time
	lifetime  time.Duration // server-side lifetime when Options.MaxAge == 0
	maxLength atomic.Int64  // 0: no limit
}

// newID returns a fresh random session ID of 256 bits.
func newID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validID reports whether id has the shape of an ID from newID.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// token derives the backend key of a session ID: base64url(SHA-256(id)). The
// backend never sees the ID itself, so a dump of it holds no usable cookie.
func token(id string) string {
	return tokenOf([]byte(id))
}

// tokenOf is token for an ID held in a byte slice.
func tokenOf(id []byte) string {
	sum := sha256.Sum256(id)
	var buf [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(buf[:], sum[:])
	return string(buf[:])
}

// newSession implements sessions.Store.New for store.
func (e *engine) newSession(store sessions.Store, codecs []securecookie.Codec, opts *sessions.Options, r *http.Request, name string) (*sessions.Session, error) {
	s := sessions.NewSession(store, name)
	*s.Options = *opts // NewSession allocated a zero Options for us
	s.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		s.ID = newID()
		return s, nil
	}
	var raw []byte
	if err := securecookie.DecodeMulti(name, c.Value, &raw, codecs...); err != nil || !validID(string(raw)) {
		// Tampered, signed with a retired key, or too old: a fresh session.
		s.ID = newID()
		return s, nil
	}
	data, found, err := e.backend.FindCtx(r.Context(), tokenOf(raw))
	if err != nil {
		s.ID = newID()
		return s, fmt.Errorf("gorillastore: load session: %w", err)
	}
	if !found {
		s.ID = newID()
		return s, nil
	}
	if err := decodeValues(s.Values, data); err != nil {
		clear(s.Values)
		s.ID = newID()
		return s, fmt.Errorf("gorillastore: load session: %w", err)
	}
	s.ID = string(raw)
	s.IsNew = false
	return s, nil
}

// save implements sessions.Store.Save.
func (e *engine) save(codecs []securecookie.Codec, opts *sessions.Options, r *http.Request, w http.ResponseWriter, s *sessions.Session) error {
	if s.Options == nil {
		o := *opts
		s.Options = &o
	}
	ctx := r.Context()
	if s.Options.MaxAge < 0 {
		if validID(s.ID) {
			if err := e.backend.DeleteCtx(ctx, token(s.ID)); err != nil {
				return fmt.Errorf("gorillastore: delete session: %w", err)
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
	cookie, err := securecookie.EncodeMulti(s.Name(), []byte(s.ID), codecs...)
	if err != nil {
		return fmt.Errorf("gorillastore: save session: encode cookie: %w", err)
	}
	lifetime := e.lifetime
	if s.Options.MaxAge > 0 {
		lifetime = time.Duration(s.Options.MaxAge) * time.Second
	}
	if err := e.backend.CommitCtx(ctx, token(s.ID), data, e.now().Add(lifetime)); err != nil {
		return fmt.Errorf("gorillastore: save session: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(s.Name(), cookie, s.Options))
	return nil
}

// setMaxLength implements MaxLength: l <= 0 means no limit.
func (e *engine) setMaxLength(l int) {
	e.maxLength.Store(int64(max(l, 0)))
}

// codecsFromPairs returns the cookie codecs for keyPairs: securecookie codecs
// that sign (and, with a block key, encrypt) the raw ID bytes, valid for
// maxAge seconds.
func codecsFromPairs(maxAge int, keyPairs ...[]byte) ([]securecookie.Codec, error) {
	if len(keyPairs) == 0 || len(keyPairs[0]) == 0 {
		return nil, errors.New("at least one hash key is required")
	}
	codecs := securecookie.CodecsFromPairs(keyPairs...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(securecookie.NopEncoder{})
		}
	}
	setCodecMaxAge(codecs, maxAge)
	return codecs, nil
}

// setCodecMaxAge sets the cookie timestamp limit of every securecookie codec.
func setCodecMaxAge(codecs []securecookie.Codec, maxAge int) {
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(max(maxAge, 0))
		}
	}
}

// StoreToken returns the token under which the adapter keeps the session
// with ID id in its backing store: base64url(SHA-256(id)). Use it to act on
// a session through the backing store, for example to delete every session
// of a user found by streaming the store's sessions.
func StoreToken(id string) string { return token(id) }

// DecodeValues decodes the data the adapter stored for a session into a
// fresh Values map, as Get would. Use it to read sessions streamed from the
// backing store (for a "your devices" page, say).
func DecodeValues(data []byte) (map[any]any, error) {
	values := make(map[any]any)
	if err := decodeValues(values, data); err != nil {
		return nil, fmt.Errorf("gorillastore: decode values: %w", err)
	}
	return values, nil
}
