package sessionstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
	"unicode/utf8"
)

// UserIndex is implemented by every store whose per-user index is on
// (Config.Owner set): it finds a user's sessions without reading the others.
// A listed session is always a live one: expired, deleted and tombstoned
// sessions are never listed, whichever replica deleted them.
//
//	// "Your devices": the user's sessions, the current one marked.
//	devices, err := store.UserSessions(ctx, userID)
//	current := sessionstore.SessionID(sessionManager.Token(ctx))
//
//	// "Sign out everywhere else", after a password change.
//	n, err := store.DeleteUserSessionsExcept(ctx, userID, sessionManager.Token(ctx))
//
//	// An account disabled by an administrator.
//	n, err := store.DeleteUserSessions(ctx, userID)
//
// Deleting through the index is a logout: every deleted session gets a
// tombstone, exactly as Delete gives it.
type UserIndex interface {
	// UserSessions returns the live sessions of user, most recently seen
	// first.
	UserSessions(ctx context.Context, user string) ([]UserSession, error)
	// CountUserSessions returns the number of live sessions of user.
	CountUserSessions(ctx context.Context, user string) (int, error)
	// DeleteUserSession deletes the session of user whose UserSession.ID is
	// id, and reports whether there was one. A session of another user is
	// never deleted, so id may come straight from a form.
	DeleteUserSession(ctx context.Context, user, id string) (bool, error)
	// DeleteUserSessions deletes every session of user and returns how many
	// it deleted.
	DeleteUserSessions(ctx context.Context, user string) (int, error)
	// DeleteUserSessionsExcept deletes every session of user but those of
	// the tokens in keep (the current one: "sign out everywhere else").
	DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error)
}

// UserSession describes one live session of a user, for a "your devices"
// page. It holds no token: ID identifies the session without being able to
// sign in with it, so it can be shown and posted back in a form.
type UserSession struct {
	// ID is SessionID of the session's token.
	ID string
	// Created is when the session was first committed with an owner
	// (or, for a session indexed by a migration, when it was indexed).
	Created time.Time
	// LastSeen is when the session was last committed.
	LastSeen time.Time
	// Expiry is the session's expiry.
	Expiry time.Time
	// UserAgent and IP are those of the request of the last Commit that
	// carried them (see WithClient); empty if the application never asked
	// for them.
	UserAgent string
	IP        string
}

// SessionID returns the identifier UserSession.ID gives the session of
// token: the first 128 bits of a SHA-256 of the token, base64url encoded.
// It cannot be turned back into the token.
func SessionID(token string) string {
	h := sha256.Sum256([]byte("sessionstore session id\x00" + token))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// MaxOwnerLen is the longest owner a store indexes, in bytes.
const MaxOwnerLen = 255

// MaxUserAgentLen is the longest user agent a store keeps, in bytes; a
// longer one is cut, at a UTF-8 boundary, by WithClient.
const MaxUserAgentLen = 512

// ErrInvalidOwner is matched (with errors.Is) by the error Commit returns
// when the owner its OwnerFunc reads is not a string, is longer than
// MaxOwnerLen or is not valid UTF-8. Nothing is written.
var ErrInvalidOwner = errors.New("invalid session owner")

// ErrNoIndex is matched (with errors.Is) by the error a store's UserIndex
// methods return when its per-user index is off (Config.Owner is nil), and
// by the error NewWithConfig returns when Config.Owner turns the index on
// but the table lacks its columns: run the store's Migrate (or the SQL in
// docs/index.md) first.
var ErrNoIndex = errors.New("per-user index unavailable")

// CheckOwner returns an error matching ErrInvalidOwner if owner is longer
// than MaxOwnerLen, not valid UTF-8 or holds a NUL byte. "" (no owner) is
// valid. An owner is otherwise just a string: one that looks like SQL or a
// glob pattern is stored and compared as it is.
func CheckOwner(owner string) error {
	switch {
	case len(owner) > MaxOwnerLen:
		return fmt.Errorf("%w: %d bytes, maximum %d", ErrInvalidOwner, len(owner), MaxOwnerLen)
	case !utf8.ValidString(owner):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidOwner)
	}
	for i := 0; i < len(owner); i++ {
		if owner[i] == 0 {
			return fmt.Errorf("%w: holds a NUL byte", ErrInvalidOwner)
		}
	}
	return nil
}

// OwnerFunc reads the owner (the user) of a session from its encoded data,
// as a store's Commit receives it. It returns "" for a session without an
// owner, which is not indexed, and an error for data whose owner it cannot
// read (the store's Commit then fails and writes nothing).
type OwnerFunc func(data []byte) (string, error)

// Read returns the owner f reads from data, checked with CheckOwner: an
// OwnerFunc of the application's own may return any string, and a store
// indexes only owners CheckOwner accepts. Stores call it in Commit and in
// their migration's backfill.
func (f OwnerFunc) Read(data []byte) (string, error) {
	owner, err := f(data)
	if err != nil {
		return "", err
	}
	if err := CheckOwner(owner); err != nil {
		return "", err
	}
	return owner, nil
}

// Codec is the decoding half of scs.Codec (scs.GobCodec, or the codec of
// your scs.SessionManager).
type Codec interface {
	Decode([]byte) (deadline time.Time, values map[string]any, err error)
}

// OwnerKey returns the OwnerFunc for SCS sessions whose owner is the string
// stored under key, decoded with codec (the session manager's codec):
//
//	store, err := pgstore.NewWithConfig(pool, pgstore.Config{
//		Owner: sessionstore.OwnerKey(scs.GobCodec{}, "user_id"),
//	})
//
// A session without key has no owner. A value under key that is not a
// string, or fails CheckOwner, is an error matching ErrInvalidOwner.
//
// With scs.GobCodec, the owner is read from the gob stream without decoding
// the rest of the session (see gobOwner): a few hundred nanoseconds instead
// of a full decode's tens of microseconds and two hundred allocations.
func OwnerKey(codec Codec, key string) OwnerFunc {
	fast := fastGobOwner(codec)
	return func(data []byte) (string, error) {
		if fast != nil {
			if owner, found, ok := fast.owner(data, key); ok {
				if !found {
					return "", nil
				}
				// CheckOwner directly: OwnerValue's any arguments would
				// cost two allocations a Commit.
				if err := CheckOwner(owner); err != nil {
					return "", fmt.Errorf("value under %q: %w", key, err)
				}
				return owner, nil
			}
		}
		_, values, err := codec.Decode(data)
		if err != nil {
			return "", fmt.Errorf("read owner: %w", err)
		}
		return OwnerValue(values[key], key)
	}
}

// OwnerValue checks v, the value a session holds under key, as an owner:
// nil is no owner, a string is checked with CheckOwner, anything else is an
// error matching ErrInvalidOwner. OwnerFuncs for other session formats
// (gorillastore.OwnerKey) use it.
func OwnerValue(v any, key any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		if err := CheckOwner(v); err != nil {
			return "", fmt.Errorf("value under %q: %w", key, err)
		}
		return v, nil
	default:
		return "", fmt.Errorf("%w: value under %q is a %T, not a string", ErrInvalidOwner, key, v)
	}
}

// Client is what a store records of the request that commits a session, for
// UserSession. Stores record it only when the application puts it in the
// Commit's context with WithClient (or RecordClient): nothing is stored that
// the application did not ask for.
type Client struct {
	UserAgent string
	IP        string
}

type clientKey struct{}

// WithClient returns a copy of ctx carrying c, for the CommitCtx of a store
// with its per-user index on. A user agent over MaxUserAgentLen bytes is
// cut at a UTF-8 boundary, and invalid UTF-8 in it replaced, so that a
// client cannot make the store keep more than that.
func WithClient(ctx context.Context, c Client) context.Context {
	if len(c.UserAgent) > MaxUserAgentLen || !utf8.ValidString(c.UserAgent) {
		var b []byte
		for _, r := range c.UserAgent { // invalid bytes come as U+FFFD
			if len(b)+utf8.RuneLen(r) > MaxUserAgentLen {
				break
			}
			b = utf8.AppendRune(b, r)
		}
		c.UserAgent = string(b)
	}
	if len(c.IP) > 45 || !utf8.ValidString(c.IP) { // 45: the longest textual IPv6 address
		c.IP = ""
	}
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFromContext returns the Client that WithClient put in ctx.
func ClientFromContext(ctx context.Context) (Client, bool) {
	c, ok := ctx.Value(clientKey{}).(Client)
	return c, ok
}

// RecordClient is middleware that records each request's User-Agent header
// and remote IP (from r.RemoteAddr) with WithClient, so that a store with
// its per-user index on keeps them for UserSessions. Put it outside SCS's
// LoadAndSave, whose Commit runs with the request's context:
//
//	handler := sessionstore.RecordClient(sessionManager.LoadAndSave(mux))
//
// Behind a reverse proxy, r.RemoteAddr is the proxy's: call WithClient
// yourself with the client address your proxy reports.
func RecordClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ctx := WithClient(r.Context(), Client{UserAgent: r.UserAgent(), IP: ip})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
