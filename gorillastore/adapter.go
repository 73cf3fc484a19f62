package gorillastore

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/sessionstore/sessionstore/internal/touch"
)

// Config configures a Store (through NewWithConfig) and, embedded in
// PGConfig, a PGStore. The zero value of every field means its default.
type Config struct {
	// KeyPairs are the securecookie hash and block key pairs that sign (and,
	// with a block key, encrypt) the session cookie, newest first: the first
	// pair signs new cookies, every pair is tried when reading one, so that
	// keys can be rotated by prepending a new pair. At least a hash key is
	// required; use 32 or 64 random bytes.
	KeyPairs [][]byte
	// Options are the default cookie options of new sessions. nil means
	// Path "/" and MaxAge DefaultMaxAge (30 days). The store keeps this
	// pointer as its Options field. A MaxAge over the 292 years a
	// time.Duration holds is an error matching
	// sessionstore.ErrExpiryOutOfRange.
	Options *sessions.Options
	// MaxLength limits the encoded session values, in bytes. 0 means
	// DefaultMaxLength (4096); a negative value means no limit. A Save over
	// the limit fails with an error matching sessionstore.ErrTooLarge and
	// writes nothing.
	MaxLength int
	// BrowserSessionLifetime is how long the server keeps a session whose
	// Options.MaxAge is 0 (a cookie the browser drops when it closes) after
	// its last Save. 0 means DefaultBrowserSessionLifetime (24 hours).
	BrowserSessionLifetime time.Duration
	// Now is the clock the store computes expiry times with. nil means
	// time.Now. Pass the same clock to the underlying store.
	Now func() time.Time
	// RecordClient makes Save pass the request's User-Agent header and
	// remote IP (the host of r.RemoteAddr) to the underlying store, with
	// sessionstore.WithClient, so that a store whose per-user index is on
	// keeps them for UserSessions (a "your devices" page). A request whose
	// context already carries a client (sessionstore.WithClient with the
	// address your reverse proxy reports, or the sessionstore.RecordClient
	// middleware) keeps that one. Off by default: nothing is stored that the
	// application did not ask for.
	RecordClient bool
	// TouchWindow, if positive, coalesces touches: a Save of a session
	// this store loaded (or saved), whose values encode to the same data
	// as what this store last read or wrote for it, and whose expiry moves
	// later by less than TouchWindow, writes nothing and, on PostgreSQL,
	// makes no round trip; it still sets the cookie. With a sliding MaxAge,
	// saved on every request, it turns the write per request into at most
	// one per session per window. A session's stored expiry is then up to
	// TouchWindow earlier than the last requested one, never later; a change
	// of values, a MaxAge that moves the expiry earlier, or a session with
	// less than TouchWindow left is always written; and the per-user index's
	// last-seen time and client are those of the last write. Values of the
	// compact format (strings, numbers, booleans, []byte, time.Time) are
	// compared whatever order the map holds them in; values saved with gob
	// (other types, flashes) only when their bytes repeat. PGStore reads
	// each session's expiry when it loads it; the adapter knows only the
	// expiry of its own last write, and forgets it when a load returns other
	// data. Over a store with a TouchWindow of its own (memstore, pgstore,
	// ...), set that one instead: memstore decides on the stored session
	// itself, which a view here cannot (a session evicted between Get and
	// Save would not be written again). See docs/touch.md. Zero: every Save
	// is written. A negative value is an error.
	TouchWindow time.Duration
}

// engine returns the engine and codecs cfg describes, filling in defaults.
func (cfg *Config) engine(backend CtxStore) (*engine, []securecookie.Codec, error) {
	if cfg.Options == nil {
		cfg.Options = &sessions.Options{Path: "/", MaxAge: DefaultMaxAge}
	}
	codecs, err := codecsFromPairs(cfg.Options.MaxAge, cfg.KeyPairs...)
	if err != nil {
		return nil, nil, err
	}
	view, err := touch.New(cfg.TouchWindow)
	if err != nil {
		return nil, nil, err
	}
	e := &engine{backend: backend, now: cfg.Now, lifetime: cfg.BrowserSessionLifetime, recordClient: cfg.RecordClient, touch: view}
	if err := checkMaxAge(cfg.Options.MaxAge); err != nil {
		return nil, nil, err
	}
	e.setBackend(backend)
	if e.now == nil {
		e.now = time.Now
	}
	if e.lifetime <= 0 {
		e.lifetime = DefaultBrowserSessionLifetime
	}
	switch {
	case cfg.MaxLength == 0:
		e.setMaxLength(DefaultMaxLength)
	case cfg.MaxLength > 0:
		e.setMaxLength(cfg.MaxLength)
	}
	return e, codecs, nil
}

// setBackend makes backend the store e loads from and saves to, using its
// optional methods (valuesLoader, CtxUpdater) where it has them.
func (e *engine) setBackend(backend CtxStore) {
	e.backend = backend
	e.loader, _ = backend.(valuesLoader)
	e.updater, _ = backend.(CtxUpdater)
}

// Store serves gorilla/sessions from any store with the SCS context methods
// (memstore, pgstore, gormstore, bunstore, or an SCS store). The cookie holds
// only a signed random session ID; the values stay in the underlying store,
// under base64url(SHA-256(ID)), so a dump of that store yields no usable
// cookie.
//
// Configure Options, Codecs, MaxAge and MaxLength before serving requests;
// Get, New and Save only read the Store and are safe for concurrent use.
type Store struct {
	// Codecs sign and verify the session cookie; the first one signs. The
	// store's own codecs use securecookie's format and are checked on Get
	// without securecookie's per-call allocations; they change only through
	// MaxAge. The cookie value is the session ID: with the store's codecs,
	// securecookie.EncodeMulti(name, session.ID, store.Codecs...) makes a
	// cookie that loads the session, and securecookie.DecodeMulti reads the
	// ID of a cookie into a string or a []byte, as with
	// antonlindstrom/pgstore. To use other securecookie settings (MinAge,
	// MaxLength, hash function), assign codecs of your own, with the
	// securecookie.NopEncoder serializer: they are used through
	// securecookie.DecodeMulti, with the ID as a []byte.
	Codecs []securecookie.Codec
	// Options are the default cookie options; each session gets a copy.
	Options *sessions.Options

	e *engine
}

var _ sessions.Store = (*Store)(nil)

// New returns a Store that keeps gorilla/sessions sessions in store, with
// cookies signed by keyPairs (see Config.KeyPairs) and the other defaults of
// Config. It is the adapter to use for memstore or any SQL store:
//
//	store, err := gorillastore.New(memstore.New(), hashKey)
func New(store CtxStore, keyPairs ...[]byte) (*Store, error) {
	return NewWithConfig(store, Config{KeyPairs: keyPairs})
}

// NewWithConfig is New with every setting of Config.
func NewWithConfig(store CtxStore, cfg Config) (*Store, error) {
	if store == nil {
		return nil, errors.New("gorillastore: new: nil store")
	}
	e, codecs, err := cfg.engine(store)
	if err != nil {
		return nil, fmt.Errorf("gorillastore: new: %w", err)
	}
	return &Store{Codecs: codecs, Options: cfg.Options, e: e}, nil
}

// Get returns the session name of the request, loading it on the first call
// in a request and returning the same *sessions.Session after that (the
// gorilla/sessions registry).
//
// A request without a valid cookie, or whose session is unknown, expired or
// deleted, gets a new session with a fresh ID and IsNew set, and a nil error.
// A backend failure gives such a fresh session together with the error:
// don't Save it, or the client loses its session.
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session name of the request like Get, without the registry.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	return s.e.newSession(s, s.Codecs, s.Options, r, name)
}

// Save writes the session to the underlying store with the request's
// context and sets its cookie. With session.Options.MaxAge < 0 it deletes
// the session and its cookie instead. A session deleted meanwhile (by a
// logout in another request) is not brought back: if the store implements
// CtxUpdater, a session that New loaded is saved by updating its live row
// only, and if that row is gone Save writes nothing, sets no cookie and
// returns nil; otherwise the store's tombstone blocks the Commit for its
// tombstone lifetime (see the package documentation). An expiry out of
// range gives an error matching sessionstore.ErrExpiryOutOfRange and writes
// nothing.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	return s.e.save(s.Codecs, s.Options, r, w, session)
}

// MaxAge sets the default cookie and session lifetime, in seconds, of the
// store's Options and the cookie timestamp limit of its codecs. Call it
// before serving requests. An age over the 292 years a time.Duration holds
// makes every Save fail with an error matching
// sessionstore.ErrExpiryOutOfRange.
func (s *Store) MaxAge(age int) {
	s.Options.MaxAge = age
	setCodecMaxAge(s.Codecs, age)
}

// MaxLength limits the encoded session values to l bytes; 0 means no limit.
// The default is 4096.
func (s *Store) MaxLength(l int) {
	s.e.setMaxLength(l)
}
