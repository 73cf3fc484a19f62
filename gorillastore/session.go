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

	"github.com/sessionstore/sessionstore/internal/touch"
)

// CtxStore is the method set of scs.CtxStore that the adapter needs. Every
// store of this repository (memstore, pgstore, gormstore, bunstore) has it,
// and so do the SCS stores.
type CtxStore interface {
	FindCtx(ctx context.Context, token string) (b []byte, found bool, err error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
}

// CtxUpdater is the optional method of a CtxStore that can replace the data and expiry of a live
// session without ever creating one. UpdateCtx reports whether it found a
// live session under token (not expired, not deleted, no tombstone) and
// updated it; if it found none, it writes nothing and returns false and a
// nil error.
//
// The adapter saves a session it loaded with UpdateCtx, where the store has
// it, so that a request that loaded the session before a logout never
// brings it back, however late it saves and whatever the store's tombstones
// hold by then. Over a store without it, a loaded session is saved with
// CommitCtx and stays deleted only while the store's tombstone blocks the
// token (see the package documentation).
type CtxUpdater interface {
	UpdateCtx(ctx context.Context, token string, b []byte, expiry time.Time) (updated bool, err error)
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
const idLen = (idBytes*8 + 5) / 6

// engine is the gorilla/sessions logic PGStore and Store share. It holds no
// per-request state; Get and New only read it.
type engine struct {
	backend   CtxStore
	loader    valuesLoader // backend, if it is one
	updater   CtxUpdater   // backend, if it is one
	now       func() time.Time
	lifetime  time.Duration // server-side lifetime when Options.MaxAge == 0
	maxLength atomic.Int64  // 0: no limit
	// recordClient is Config.RecordClient.
	recordClient bool
	// touch is the local view of Config.TouchWindow, nil for 0. A loader
	// records its loads in it itself (see pgBackend.touch).
	touch *touch.View
	// loaderSees is set when loader records its loads in touch (PGStore's
	// own backend); otherwise, with touch on, load uses FindCtx.
	loaderSees bool
}

// newID returns a fresh random session ID of 256 bits.
func newID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validID reports whether id has the shape of an ID from newID.
func validID[T string | []byte](id T) bool {
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

// tokenLen is the length of a backend key: a SHA-256 digest in unpadded
// base64url.
const tokenLen = 43

// token derives the backend key of a session ID: base64url(SHA-256(id)). The
// backend never sees the ID, so a dump of it holds no usable cookie.
func token(id string) string {
	var buf [tokenLen]byte
	putToken(&buf, id)
	return string(buf[:])
}

// putToken writes the backend key of the session ID id to dst.
func putToken(dst *[tokenLen]byte, id string) {
	var sum [sha256.Size]byte
	if len(id) <= idLen {
		var b [idLen]byte // []byte(id) would allocate
		n := copy(b[:], id)
		sum = sha256.Sum256(b[:n])
	} else {
		sum = sha256.Sum256([]byte(id))
	}
	base64.RawURLEncoding.Encode(dst[:], sum[:])
}

// newSession implements sessions.Store.New for store.
func (e *engine) newSession(store sessions.Store, codecs []securecookie.Codec, opts *sessions.Options, r *http.Request, name string) (*sessions.Session, error) {
	h := &handle{Store: store, e: e}
	s := sessions.NewSession(h, name)
	*s.Options = *opts // NewSession allocated a zero Options for us
	s.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		s.ID = newID()
		return s, nil
	}
	var buf [idLen]byte
	raw, ok := decodeCookie(buf[:0], codecs, name, c.Value)
	if !ok || !validID(raw) {
		// Tampered, signed with a retired key, or too old: a fresh session.
		s.ID = newID()
		return s, nil
	}
	id := string(raw)
	if err := e.load(r.Context(), id, s.Values); err != nil {
		clear(s.Values)
		s.ID = newID()
		if errors.Is(err, errNotFound) {
			return s, nil
		}
		return s, fmt.Errorf("gorillastore: load session: %w", err)
	}
	s.ID = id
	s.IsNew = false
	h.stored = id
	return s, nil
}

// decodeCookie appends to dst the session ID in the cookie value, if one of
// codecs verifies it. The store's own codecs are checked by
// cookieCodec.verify; any other through securecookie.
func decodeCookie(dst []byte, codecs []securecookie.Codec, name, value string) ([]byte, bool) {
	if ourCodecs(codecs) {
		for _, c := range codecs {
			if id, ok := c.(*cookieCodec).verify(dst, name, value); ok {
				return id, true
			}
		}
		return dst, false
	}
	var raw []byte
	if err := securecookie.DecodeMulti(name, value, &raw, codecs...); err != nil {
		return dst, false
	}
	return append(dst, raw...), true
}

// errNotFound is load's answer for a session that is not in the backend (or
// expired, or deleted).
var errNotFound = errors.New("session not found")

// valuesLoader is a backend that decodes a session's values straight from
// its own buffers, keyed by the session ID (PGStore's table). It returns
// errNotFound for a session it does not have.
type valuesLoader interface {
	loadValues(ctx context.Context, id string, values map[any]any) error
}

// load decodes the values of the session with ID id into values, an empty
// map, or returns errNotFound.
func (e *engine) load(ctx context.Context, id string, values map[any]any) error {
	if e.loader != nil && (e.touch == nil || e.loaderSees) {
		return e.loader.loadValues(ctx, id, values)
	}
	tok := token(id)
	data, found, err := e.backend.FindCtx(ctx, tok)
	switch {
	case err != nil:
		e.touch.Forget(tok)
		return err
	case !found:
		e.touch.Forget(tok)
		return errNotFound
	}
	e.touch.SawData(tok, data) // FindCtx gives no expiry
	return decodeValues(values, data)
}

// setMaxLength implements MaxLength: l <= 0 means no limit.
func (e *engine) setMaxLength(l int) {
	e.maxLength.Store(int64(max(l, 0)))
}

// codecsFromPairs returns the cookie codecs for keyPairs: codecs that sign
// (and, with a block key, encrypt) the raw ID bytes with securecookie's
// format, valid for maxAge seconds.
func codecsFromPairs(maxAge int, keyPairs ...[]byte) ([]securecookie.Codec, error) {
	if len(keyPairs) == 0 || len(keyPairs[0]) == 0 {
		return nil, errors.New("at least one hash key is required")
	}
	return newCookieCodecs(maxAge, keyPairs...), nil
}

// setCodecMaxAge sets the cookie timestamp limit of the store's codecs and of
// any securecookie codec.
func setCodecMaxAge(codecs []securecookie.Codec, maxAge int) {
	for _, c := range codecs {
		switch c := c.(type) {
		case *cookieCodec:
			c.setMaxAge(maxAge)
		case *securecookie.SecureCookie:
			c.MaxAge(max(maxAge, 0))
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
