package gorillastore

import (
	"context"
	"fmt"

	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore"
)

// OwnerKey returns the sessionstore.OwnerFunc that reads the owner of a
// session saved by this package (the adapter or PGStore) from the string
// under Values[key]. Configure the underlying store with it to index gorilla
// sessions by user:
//
//	mem, err := memstore.NewWithConfig(memstore.Config{Owner: gorillastore.OwnerKey("user_id")})
//	store, err := gorillastore.New(mem, hashKey)
//	...
//	session.Values["user_id"] = strconv.FormatInt(user.ID, 10) // a string
//
// A session without key has no owner and is not indexed. A value under key
// that is not a string (an int user ID, say), or that fails
// sessionstore.CheckOwner, is an error matching sessionstore.ErrInvalidOwner:
// the Save fails and writes nothing. Data that does not decode is an error
// too.
func OwnerKey(key string) sessionstore.OwnerFunc {
	return func(data []byte) (string, error) {
		values := make(map[any]any)
		if err := decodeValues(values, data); err != nil {
			return "", fmt.Errorf("read owner: %w", err)
		}
		return sessionstore.OwnerValue(values[key], key)
	}
}

var (
	_ sessionstore.UserIndex = (*Store)(nil)
	_ sessionstore.UserIndex = (*PGStore)(nil)
)

// The IDs of the user index.
//
// The underlying store indexes the session under its token,
// base64url(SHA-256(session ID)), and names it in UserSession.ID by
// sessionstore.SessionID of that token. SessionID gives that same ID for a
// gorilla session, to mark the current device on a "your devices" page;
// DeleteUserSessionsExcept takes gorilla session IDs (session.ID) and maps
// them to tokens itself.

// sessionID returns the UserSession.ID of the session with gorilla ID id,
// or "" for an ID no session of this package has.
func sessionID(id string) string {
	if !validID(id) {
		return ""
	}
	return sessionstore.SessionID(token(id))
}

// keepTokens maps the gorilla session IDs of DeleteUserSessionsExcept to
// the tokens the underlying store knows them by. An ID no session of this
// package can have keeps nothing.
func keepTokens(ids []string) []string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			toks = append(toks, token(id))
		}
	}
	return toks
}

// index returns the underlying store's user index, or an error wrapping
// sessionstore.ErrNoIndex naming op.
func (s *Store) index(op string) (sessionstore.UserIndex, error) {
	if ix, ok := s.e.backend.(sessionstore.UserIndex); ok {
		return ix, nil
	}
	return nil, fmt.Errorf("gorillastore: %s: the underlying store (%T) has no per-user index: %w", op, s.e.backend, sessionstore.ErrNoIndex)
}

// SessionID returns the UserSession.ID under which UserSessions lists
// session: sessionstore.SessionID of the token the session is stored under,
// never the session ID itself. Compare it with the listed IDs to mark the
// current device. It returns "" for a session without a valid ID (one never
// saved by this package).
func (s *Store) SessionID(session *sessions.Session) string { return sessionID(session.ID) }

// UserSessions returns the live sessions of user, most recently seen first,
// from the underlying store's index (see sessionstore.UserIndex). Their IDs
// are those SessionID gives, not gorilla session IDs. Over a store without
// an index (one not implementing sessionstore.UserIndex, or whose
// Config.Owner is nil) it returns an error matching sessionstore.ErrNoIndex.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	ix, err := s.index("user sessions")
	if err != nil {
		return nil, err
	}
	list, err := ix.UserSessions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("gorillastore: user sessions: %w", err)
	}
	return list, nil
}

// CountUserSessions returns the number of live sessions of user.
func (s *Store) CountUserSessions(ctx context.Context, user string) (int, error) {
	ix, err := s.index("count user sessions")
	if err != nil {
		return 0, err
	}
	n, err := ix.CountUserSessions(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("gorillastore: count user sessions: %w", err)
	}
	return n, nil
}

// DeleteUserSession deletes the session of user whose UserSession.ID is id
// (as UserSessions lists it, or SessionID gives it), with its tombstone,
// and reports whether there was one. A session of another user is never
// deleted.
func (s *Store) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	ix, err := s.index("delete user session")
	if err != nil {
		return false, err
	}
	ok, err := ix.DeleteUserSession(ctx, user, id)
	if err != nil {
		return false, fmt.Errorf("gorillastore: delete user session: %w", err)
	}
	return ok, nil
}

// DeleteUserSessions deletes every session of user and returns how many
// live ones it deleted.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	ix, err := s.index("delete user sessions")
	if err != nil {
		return 0, err
	}
	n, err := ix.DeleteUserSessions(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("gorillastore: delete user sessions: %w", err)
	}
	return n, nil
}

// DeleteUserSessionsExcept deletes every session of user but those whose
// gorilla session IDs (session.ID, not UserSession.ID) are in keep, and
// returns how many live ones it deleted: "sign out everywhere else" is
//
//	n, err := store.DeleteUserSessionsExcept(ctx, userID, session.ID)
func (s *Store) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	ix, err := s.index("delete user sessions")
	if err != nil {
		return 0, err
	}
	n, err := ix.DeleteUserSessionsExcept(ctx, user, keepTokens(keep)...)
	if err != nil {
		return 0, fmt.Errorf("gorillastore: delete user sessions: %w", err)
	}
	return n, nil
}

// SessionID returns the UserSession.ID under which UserSessions lists
// session, as (*Store).SessionID does.
func (s *PGStore) SessionID(session *sessions.Session) string { return sessionID(session.ID) }

// UserSessions returns the live sessions of user, most recently seen first
// (see sessionstore.UserIndex): those not expired by the store's clock and
// without a tombstone. Their IDs are those SessionID gives, not gorilla
// session IDs. With PGConfig.Owner nil it returns an error matching
// sessionstore.ErrNoIndex.
func (s *PGStore) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	return s.b.UserSessions(ctx, user)
}

// CountUserSessions returns the number of live sessions of user.
func (s *PGStore) CountUserSessions(ctx context.Context, user string) (int, error) {
	return s.b.CountUserSessions(ctx, user)
}

// DeleteUserSession deletes the session of user whose UserSession.ID is id
// (as UserSessions lists it, or SessionID gives it), with its tombstone,
// and reports whether there was one. A session of another user is never
// deleted, so id may come straight from a form.
func (s *PGStore) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	return s.b.DeleteUserSession(ctx, user, id)
}

// DeleteUserSessions deletes every session of user, each with its
// tombstone, in one statement, and returns how many live ones it deleted.
// It runs to completion if ctx is cancelled, within PGConfig.Timeout or
// DefaultTimeout.
func (s *PGStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return s.b.DeleteUserSessions(ctx, user)
}

// DeleteUserSessionsExcept is DeleteUserSessions but for the sessions whose
// gorilla session IDs (session.ID, not UserSession.ID) are in keep: "sign
// out everywhere else" is
//
//	n, err := store.DeleteUserSessionsExcept(ctx, userID, session.ID)
func (s *PGStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return s.b.DeleteUserSessionsExcept(ctx, user, keepTokens(keep)...)
}
