// Package gorillastore serves github.com/gorilla/sessions from server-side
// stores: PGStore keeps sessions in PostgreSQL through pgx, with the API of
// github.com/antonlindstrom/pgstore, and New adapts any store with the SCS
// context methods (memstore, pgstore, gormstore, bunstore, or an SCS store)
// to gorilla's sessions.Store.
//
// # Cookies and storage
//
// The cookie carries only a random 256-bit session ID, signed (and, with a
// block key, encrypted) in gorilla/securecookie's format with the store's
// key pairs.
// The first pair signs; every pair is tried when a cookie is read, so keys
// rotate by prepending a new pair and dropping the old one after the cookie
// lifetime. The backend never sees the ID: sessions are stored under
// base64url(SHA-256(ID)), so a dump of the table, or of any backend, yields no
// cookie that works.
//
// Session values stay on the server. They are stored unsigned: the database
// is trusted, and a key rotation therefore never makes stored data
// undecodable. Maps whose keys and values are strings, ints, int64s,
// uint64s, bools, float64s, []bytes and time.Times use a compact binary
// format that decodes with a few allocations; anything else is encoded with
// encoding/gob, as gorilla's own stores do (register custom types with
// gob.Register).
//
// # Semantics
//
// Get and New never write. A request without a valid cookie, or whose
// session is unknown, expired or deleted, gets a new session with a fresh ID
// and IsNew set, never the ID the client sent, and a nil error: an old or
// tampered cookie is not a server error. A backend failure, or stored data
// that no longer decodes, also gives a fresh session, together with an
// error; don't Save it, or the client loses its session.
//
// Save uses the request's context. Options.MaxAge < 0 deletes the session and
// its cookie. Options.MaxAge > 0 keeps the session that many seconds after
// the last Save; Options.MaxAge == 0 sets a browser-session cookie and keeps
// the session Config.BrowserSessionLifetime (24 hours by default) after the
// last Save. Values that encode to more than MaxLength bytes (4096 by
// default) give an error matching sessionstore.ErrTooLarge, and nothing is
// written, not even the cookie. An expiry that no store holds (a MaxAge over
// the 292 years of a time.Duration, or a lifetime and clock that end outside
// [sessionstore.MinExpiry, sessionstore.MaxExpiry]) gives an error matching
// sessionstore.ErrExpiryOutOfRange, again writing nothing; NewWithConfig and
// NewPGStoreWithConfig refuse such an Options.MaxAge up front, and MaxAge,
// which cannot return an error, leaves it to Save.
//
// # Logout is final
//
// A Save of a session that another request deleted meanwhile (a logout)
// never brings it back, so a slow request cannot log the user back in, even
// though its Save carries a new, later expiry (MaxAge slides on every Save).
//
// A session that the store loaded, or already saved, is saved by updating
// its live row only, never by inserting one: PGStore always, and the adapter
// over a store that implements CtxUpdater (the PGStore table does). If the
// row is gone (deleted or expired), Save writes nothing, sets no cookie and
// returns nil. This holds however long the request runs. What the store
// loaded is recorded in the session's handle, the sessions.Store that
// Session.Store() returns: a handler can change IsNew (the store ignores
// it), copy the Session (the copy is treated alike) or change its ID (a new
// ID is a new session), but cannot mark a session as loaded.
//
// Any other session (a new one, or one over a store without CtxUpdater) is
// committed with the backend's tombstone check: a deleted session's
// tombstone blocks Commits of its token until the later of the session's
// expiry and the Delete time plus the backend's tombstone lifetime (one hour
// by default, sessionstore.DefaultTombstoneLifetime), and cleanup removes it
// only once it has been expired for the backend's clock skew allowance (15
// minutes by default). Over such a store, a request that saves later than
// that after the logout, or a replica whose clock runs ahead by more than
// the allowance, can still bring the session back; keep server timeouts
// well inside the lifetime.
//
// # PostgreSQL
//
// PGStore creates its tables when they are missing:
//
//	CREATE TABLE http_sessions (
//		id BIGSERIAL PRIMARY KEY,
//		key TEXT NOT NULL UNIQUE,        -- base64url(SHA-256(session ID))
//		data BYTEA NOT NULL,
//		created_on TIMESTAMPTZ NOT NULL,
//		modified_on TIMESTAMPTZ NOT NULL,
//		expires_on TIMESTAMPTZ NOT NULL);
//	CREATE INDEX http_sessions_expires_on_idx ON http_sessions (expires_on);
//	CREATE TABLE http_sessions_tombstones (key TEXT PRIMARY KEY, expires_on TIMESTAMPTZ NOT NULL);
//	CREATE INDEX http_sessions_tombstones_expires_on_idx ON http_sessions_tombstones (expires_on);
//
// PGConfig.Table (default DefaultTable, "http_sessions") is one
// identifier, quoted whole, and may be at most 37 bytes, so that every
// derived name fits in PostgreSQL's 63-byte identifiers; a longer one is an
// error, never a name PostgreSQL silently truncates (and two such names
// would share a table). Tables that exist are used as they are: a role
// that may read and write them but not create tables runs on them.
//
// PGConfig uses the names and defaults of pgstore.Config: Table, Timeout,
// CleanupBatchSize, TombstoneLifetime, ClockSkew, AllowNoTombstones,
// Logger, OnCleanup, Owner. Loads and saves run on the request's context;
// a delete runs to completion even if the request is cancelled, bounded by
// DefaultTimeout (10 seconds), as is each cleanup batch. A positive
// PGConfig.Timeout bounds every database operation instead. The former
// names TableName and DeleteTimeout still work, deprecated.
//
// PGStore runs the SQL that pgstore runs, written once in this
// repository's PostgreSQL core, on the columns of this table. A load is one
// SELECT that filters out expired rows and rows whose key has a tombstone;
// a Save of a loaded session is one UPDATE of the live row; a Save of a new
// session is one MERGE that also checks the tombstones (an INSERT ... ON
// CONFLICT before PostgreSQL 15); a delete is one statement that removes
// the row and records a tombstone until GREATEST(row's expiry, now +
// PGConfig.TombstoneLifetime). Cleanup (StartCleanup, or DeleteExpired from
// a cron job) deletes expired rows, then tombstones expired for
// PGConfig.ClockSkew together with any row under their key, in batches of
// 1,000, each in its own transaction under an advisory lock keyed by the
// table's OID, so one replica cleans at a time.
//
// If the tombstone table is missing and cannot be created (a role without
// CREATE), the constructors return an error matching
// sessionstore.ErrNoTombstones, unless PGConfig.AllowNoTombstones is set:
// the store then runs without tombstones, logs at ERROR on every cleanup
// run, and starts using the table within a minute of its appearing.
//
// # A user's sessions
//
// With PGConfig.Owner set (gorillastore.OwnerKey("user_id") reads the
// string under Values["user_id"]), or over an underlying store whose own
// Owner is set, the stores implement sessionstore.UserIndex: UserSessions
// for a "your devices" page, DeleteUserSessionsExcept for "sign out
// everywhere else", DeleteUserSessions for a disabled account. The owner
// is written by the same statement as the session, so sign-in, sign-out
// (deleting the value) and switching user update the index in their Save.
// UserSession.ID is sessionstore.SessionID of the stored token, and
// SessionID(session) gives it for a session; DeleteUserSessionsExcept takes
// gorilla session IDs. Config.RecordClient records the request's
// User-Agent and IP. PGStore's index is four nullable columns of its table
// (see MigratePGStore to add them to an existing one).
//
// A table of antonlindstrom/pgstore has no unique key and is refused: its
// sessions cannot be read anyway (they are keyed by the raw ID), so drop it
// or pick another PGConfig.Table; users sign in again once.
package gorillastore
